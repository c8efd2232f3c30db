//! `SeaORM` Entity for the pages touched by each change of public content.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "content_changes")]
pub struct Model {
    /// The `content_revision` value the change was given.
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision: i64,
    /// The paths of the pages that show what changed, one per line.
    pub pages: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
