//! Server keys: random secrets kept in the database (`server_keys`), so every instance shares
//! them and they survive restarts. Each purpose has its own row; deleting one invalidates what
//! was signed with it (it is created afresh on next use).
use chrono::Utc;
use entity::server_keys;
use hmac::{Hmac, Mac};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use sha2::Sha256;

/// A server key that signs with HMAC-SHA256 (device cookies, links in messages); never printed.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key named `name` (see [`load_or_create`]).
    pub async fn load<C: ConnectionTrait>(db: &C, name: &str) -> anyhow::Result<Self> {
        Ok(Self(load_or_create(db, name).await?))
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// The hex-encoded tag of `payload`.
    pub fn tag(&self, payload: &str) -> String {
        hex::encode(self.mac(payload).finalize().into_bytes())
    }

    /// Whether `tag` (hex) is `payload`'s, compared in constant time.
    pub fn verifies(&self, payload: &str, tag: &str) -> bool {
        hex::decode(tag).is_ok_and(|tag| self.mac(payload).verify_slice(&tag).is_ok())
    }
}

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
