//! `SeaORM` Entity. The text of a field as it arrived, before a redaction changed the public one.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "restricted_originals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub item_kind: String,
    pub item_id: i32,
    pub field: String,
    pub original: String,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
