//! Accounts: users and roles, passwords, server-side login sessions, CSRF, login throttling and
//! device cookies, and the policy that says how a user relates to a proposal.
mod admin;
pub mod cookies;
pub mod device;
pub mod extract;
pub mod password;
pub mod policy;
mod routes;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod tokens;

pub use admin::routes as admin_routes;
pub use extract::{ClientIp, CurrentUser, SignedIn};
pub use routes::routes;

crate::vocabulary! {
    /// One account has one role. The anonymous public has no account.
    pub enum Role {
        Admin = "admin" => "管理员",
        Secretariat = "secretariat" => "秘书处",
        Member = "member" => "政协委员",
        AgencyStaff = "agency_staff" => "部门工作人员",
    }
}

/// The signed-in user as the rest of the app sees them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Actor {
    pub user_id: i32,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub person_id: Option<i32>,
    pub agency_id: Option<i32>,
}

impl Actor {
    /// Admins may do everything the secretariat may.
    pub fn is_secretariat(&self) -> bool {
        matches!(self.role, Role::Secretariat | Role::Admin)
    }
}
