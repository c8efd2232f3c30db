// Embeds templates/ into release builds (debug builds read them from disk so edits reload).
fn main() {
    minijinja_embed::embed_templates!("templates");
}
