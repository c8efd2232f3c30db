//! The seed files under `seeds/`, embedded at compile time so the binary seeds anywhere, and the
//! shapes they deserialize into. See `seeds/README.md` for the format and the provenance rules.
use serde::Deserialize;

pub const AGENCIES: &str = include_str!("../../seeds/agencies.toml");
pub const PEOPLE: &str = include_str!("../../seeds/people.toml");
pub const DOCUMENTS: &str = include_str!("../../seeds/documents.toml");
pub const SESSIONS: &[(&str, &str)] = &[(
    "sessions/027.toml",
    include_str!("../../seeds/sessions/027.toml"),
)];
pub const FOLLOWUP: &str = include_str!("../../seeds/followup.toml");

/// Source document texts by file name (verbatim copies of the project's source documents).
pub const SOURCE_TEXTS: &[(&str, &str)] = &[
    (
        "000_f97f7ce8df0e3fab.txt",
        include_str!("../../seeds/documents/000_f97f7ce8df0e3fab.txt"),
    ),
    (
        "001_f3b525b11e494924.txt",
        include_str!("../../seeds/documents/001_f3b525b11e494924.txt"),
    ),
    (
        "002_3a796fe4b0303064.txt",
        include_str!("../../seeds/documents/002_3a796fe4b0303064.txt"),
    ),
    (
        "003_0b94204b6ab63337.txt",
        include_str!("../../seeds/documents/003_0b94204b6ab63337.txt"),
    ),
    (
        "004_5a69850e46b48e5b.txt",
        include_str!("../../seeds/documents/004_5a69850e46b48e5b.txt"),
    ),
];

pub fn source_text(file: &str) -> Option<&'static str> {
    SOURCE_TEXTS
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
}

#[derive(Debug, Deserialize)]
pub struct AgencyFile {
    pub agencies: Vec<AgencySeed>,
}

#[derive(Debug, Deserialize)]
pub struct AgencySeed {
    pub key: String,
    pub full_name: String,
    pub short_name: String,
    pub aliases: Vec<String>,
    pub kind: String,
    pub source_file: String,
    pub source_quote: String,
}

#[derive(Debug, Deserialize)]
pub struct PeopleFile {
    pub people: Vec<PersonSeed>,
}

#[derive(Debug, Deserialize)]
pub struct PersonSeed {
    pub key: String,
    pub name: String,
    pub kind: String,
    pub post: String,
    pub affiliation: Option<String>,
    pub sector: Option<String>,
    pub agency: Option<String>,
    pub source_file: String,
    pub source_quote: String,
}

#[derive(Debug, Deserialize)]
pub struct DocumentFile {
    pub documents: Vec<DocumentSeed>,
}

#[derive(Debug, Deserialize)]
pub struct DocumentSeed {
    pub key: String,
    pub kind: String,
    pub issuer: String,
    pub title: String,
    pub file: String,
    pub dated: Option<String>,
    pub date_basis: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SessionFile {
    pub session: SessionSeed,
    pub proposals: Vec<ProposalSeed>,
    pub responses: Vec<ResponseSeed>,
}

#[derive(Debug, Deserialize)]
pub struct SessionSeed {
    pub number: i32,
    pub topic: String,
    pub held_on: chrono::NaiveDate,
    pub held_at_text: String,
    pub date_basis: String,
    pub organisers: Vec<String>,
    pub summary_md: String,
    pub source_file: String,
    pub source_quote: String,
    #[serde(default)]
    pub media: Vec<MediaSeed>,
    pub participants: Vec<ParticipantSeed>,
}

#[derive(Debug, Deserialize)]
pub struct MediaSeed {
    pub label: String,
    pub document: Option<String>,
    pub url: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ParticipantSeed {
    pub person: String,
    pub role: String,
    pub post_as_printed: String,
}

#[derive(Debug, Deserialize)]
pub struct ProposalSeed {
    pub code: String,
    pub author: String,
    pub title: String,
    pub topics: Vec<String>,
    pub quote: String,
    pub context: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseSeed {
    pub key: String,
    pub agency: String,
    pub responder: String,
    pub kind: String,
    pub responded_on: chrono::NaiveDate,
    pub answers: Vec<String>,
    pub quote: String,
}

#[derive(Debug, Deserialize)]
pub struct FollowupFile {
    pub links: Vec<LinkSeed>,
    pub commitments: Vec<CommitmentSeed>,
}

#[derive(Debug, Deserialize)]
pub struct LinkSeed {
    pub document: String,
    pub proposal: String,
    pub note: String,
    pub quote: String,
}

#[derive(Debug, Deserialize)]
pub struct CommitmentSeed {
    pub key: String,
    pub agency: String,
    pub proposal: Option<String>,
    pub response: Option<String>,
    pub document: Option<String>,
    pub description: String,
    pub metric: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub target_value: f64,
    pub comparison: String,
    pub target_date: Option<chrono::NaiveDate>,
    pub source_file: String,
    pub source_quote: String,
    #[serde(default)]
    pub reports: Vec<ReportSeed>,
}

#[derive(Debug, Deserialize)]
pub struct ReportSeed {
    pub value: f64,
    pub reported_on: Option<chrono::NaiveDate>,
    pub period: Option<String>,
    pub document: Option<String>,
    pub note: Option<String>,
    pub source_file: String,
    pub source_quote: String,
}

/// Every seed file, parsed.
pub struct SeedSet {
    pub agencies: AgencyFile,
    pub people: PeopleFile,
    pub documents: DocumentFile,
    pub sessions: Vec<SessionFile>,
    pub followup: FollowupFile,
}

impl SeedSet {
    pub fn load() -> anyhow::Result<Self> {
        use anyhow::Context;
        Ok(Self {
            agencies: toml::from_str(AGENCIES).context("seeds/agencies.toml")?,
            people: toml::from_str(PEOPLE).context("seeds/people.toml")?,
            documents: toml::from_str(DOCUMENTS).context("seeds/documents.toml")?,
            sessions: SESSIONS
                .iter()
                .map(|(name, text)| toml::from_str(text).with_context(|| format!("seeds/{name}")))
                .collect::<anyhow::Result<_>>()?,
            followup: toml::from_str(FOLLOWUP).context("seeds/followup.toml")?,
        })
    }
}
