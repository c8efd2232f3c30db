//! People: committee members, experts, agency officials, guests, hosts and reporters.
mod routes;
pub mod service;

pub use routes::routes;

crate::vocabulary! {
    /// What a person is in the record; also a participant's role at a session.
    pub enum PersonKind {
        CommitteeMember = "committee_member" => "政协委员",
        Expert = "expert" => "专家",
        AgencyOfficial = "agency_official" => "职能部门负责人",
        Guest = "guest" => "嘉宾",
        Host = "host" => "主持人",
        Reporter = "reporter" => "记者",
    }
}
