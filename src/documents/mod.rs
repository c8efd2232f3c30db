//! Documents: policy notices, work reports and news reports that record follow-up.
mod routes;
pub mod service;

pub use routes::routes;

crate::vocabulary! {
    pub enum DocumentKind {
        PolicyNotice = "policy_notice" => "政策文件",
        WorkReport = "work_report" => "工作报告",
        NewsReport = "news_report" => "新闻报道",
    }
}
