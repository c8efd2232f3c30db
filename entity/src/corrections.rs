//! `SeaORM` Entity for corrections of published text (one per correction, its fields apart).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "corrections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub target_kind: String,
    pub target_id: i32,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub editor_user_id: Option<i32>,
    pub editor_label: String,
    pub made_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::correction_fields::Entity")]
    CorrectionFields,
}

impl Related<super::correction_fields::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CorrectionFields.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
