//! Person lookups and the person page.

use entity::{agencies, people, session_participants, sessions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::proposals::service::{public_summaries, ListFilter, ProposalSummary};
use crate::responses::service::ResponseView;

#[derive(Serialize)]
pub struct SessionRole {
    pub number: i32,
    pub topic: String,
    pub role: String,
    pub post_as_printed: String,
}

#[derive(Serialize)]
pub struct PersonPage {
    pub person: people::Model,
    pub agency: Option<agencies::Model>,
    pub sessions: Vec<SessionRole>,
    pub proposals: Vec<ProposalSummary>,
    pub responses: Vec<ResponseView>,
}

pub async fn page<C: ConnectionTrait>(db: &C, id: i32) -> AppResult<PersonPage> {
    let person = people::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let agency = match person.agency_id {
        Some(a) => agencies::Entity::find_by_id(a).one(db).await?,
        None => None,
    };
    let sessions = session_participants::Entity::find()
        .filter(session_participants::Column::PersonId.eq(id))
        .find_also_related(sessions::Entity)
        .filter(crate::visibility::public_sessions())
        .order_by_desc(sessions::Column::Number)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(p, s)| {
            s.map(|s| SessionRole {
                number: s.number,
                topic: s.topic,
                role: p.role,
                post_as_printed: p.post_as_printed,
            })
        })
        .collect();
    let filter = ListFilter {
        author_id: Some(id),
        page: 1,
        per_page: 200,
        ..Default::default()
    };
    let proposals = public_summaries(db, &filter).await?.items;
    let responses = crate::responses::service::by_responder(db, id).await?;
    Ok(PersonPage {
        person,
        agency,
        sessions,
        proposals,
        responses,
    })
}
