//! `SeaORM` Entity for the server's own secret keys (the device-cookie signing key).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "server_keys")]
pub struct Model {
    /// What the key is for, e.g. `device_cookie`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The key, hex-encoded.
    pub value: String,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
