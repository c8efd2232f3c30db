//! Responses (答复): what agencies said on the spot, their co-handling opinions, progress reports
//! and written replies.
pub mod service;

crate::vocabulary! {
    pub enum ResponseKind {
        OnTheSpot = "on_the_spot" => "现场回应",
        CoOpinion = "co_opinion" => "协办意见",
        Progress = "progress" => "进展通报",
        Written = "written" => "书面答复",
    }
}

crate::vocabulary! {
    /// Grade of a written reply: A 所提问题已经解决或基本解决, B 正在解决或列入计划, C 因条件限制暂时不能解决.
    pub enum Grade {
        A = "A" => "A类(已解决或基本解决)",
        B = "B" => "B类(正在解决或列入计划)",
        C = "C" => "C类(因条件限制暂不能解决)",
    }
}
