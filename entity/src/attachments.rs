//! `SeaORM` Entity for attachments (files of proposals, replies and sessions).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub sha256: String,
    pub name: String,
    pub kind: String,
    pub size: i64,
    pub owner_kind: String,
    pub owner_id: i32,
    pub uploaded_by_user_id: Option<i32>,
    pub created_at: DateTimeWithTimeZone,
    pub extraction: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub extraction_error: Option<String>,
    pub page_count: Option<i32>,
    pub thumbnail_sha256: Option<String>,
    pub extracted_at: Option<DateTimeWithTimeZone>,
    pub leased_until: Option<DateTimeWithTimeZone>,
    pub attempts: i32,
    /// The content holds personal information: the public gets the name and the redacted text,
    /// not the file. Archives written before the column existed have no such field.
    #[serde(default)]
    pub withheld: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::attachment_pages::Entity")]
    AttachmentPages,
}

impl Related<super::attachment_pages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AttachmentPages.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
