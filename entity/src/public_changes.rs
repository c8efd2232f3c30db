//! `SeaORM` Entity for the public change log (`/api/v1/changes`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "public_changes")]
pub struct Model {
    /// Commit order: a reader that sees `seq` N has seen every change numbered below it.
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub kind: String,
    pub entity_id: i32,
    pub changed_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
