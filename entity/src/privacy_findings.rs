//! `SeaORM` Entity. Personal information the detector found in an item's text, and its review.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "privacy_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub item_kind: String,
    pub item_id: i32,
    pub field: String,
    pub kind: String,
    pub value: String,
    pub state: String,
    pub reviewed_by_user_id: Option<i32>,
    pub reviewed_at: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
