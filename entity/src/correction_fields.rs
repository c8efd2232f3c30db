//! `SeaORM` Entity for one field of a correction: the text before and after.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "correction_fields")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub correction_id: i32,
    pub field: String,
    #[sea_orm(column_type = "Text")]
    pub before: String,
    #[sea_orm(column_type = "Text")]
    pub after: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::corrections::Entity",
        from = "Column::CorrectionId",
        to = "super::corrections::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Corrections,
}

impl Related<super::corrections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Corrections.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
