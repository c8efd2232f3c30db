//! Server keys: random secrets kept in the database (`server_keys`), so every instance shares
//! them and they survive restarts. Each purpose has its own row; deleting one invalidates what
//! was signed with it (it is created afresh on next use).
use chrono::Utc;
use entity::server_keys;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

/// `bytes` random bytes, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    hex::encode(buf)
}

/// The 32-byte key named `name`, created on first use. Instances starting together agree: the
/// first insert wins and everyone reads it back.
pub async fn load_or_create<C: ConnectionTrait>(db: &C, name: &str) -> anyhow::Result<[u8; 32]> {
    if let Some(key) = read(db, name).await? {
        return Ok(key);
    }
    server_keys::Entity::insert(server_keys::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(random_hex(32)),
        created_at: Set(Utc::now().fixed_offset()),
    })
    .on_conflict(
        OnConflict::column(server_keys::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    read(db, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the server key {name} was not stored"))
}

async fn read<C: ConnectionTrait>(db: &C, name: &str) -> anyhow::Result<Option<[u8; 32]>> {
    let Some(row) = server_keys::Entity::find_by_id(name).one(db).await? else {
        return Ok(None);
    };
    let bytes: [u8; 32] = hex::decode(row.value.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("server_keys.{name} is not 32 hex-encoded bytes"))?;
    Ok(Some(bytes))
}
