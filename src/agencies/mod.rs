//! Agencies (职能部门 and other answering bodies): directory and pages.
mod manage;
mod routes;
mod scorecard;
pub mod service;

pub use manage::routes as manage_routes;
pub use routes::routes;
pub use scorecard::routes as scorecard_routes;

crate::vocabulary! {
    pub enum AgencyKind {
        GovernmentDepartment = "government_department" => "政府部门",
        District = "district" => "区(市)/功能区",
        Enterprise = "enterprise" => "企业",
        Bank = "bank" => "金融机构",
        Association = "association" => "社会组织",
    }
}
