//! Who is asking, and what they may see and do. Each adapter turns the platform's user (their
//! Discord roles, their Slack user id) into a [`Caller`] through the platform's `[chat]`
//! permissions; answers then leave out revenue figures or refuse an action accordingly.

use crate::config::Access;

use super::command::Syntax;

/// The person behind an invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The platform's user id.
    pub id: String,
    /// How they are named in confirmations and silences (`alice (discord)`).
    pub name: String,
    /// How this platform writes commands (for examples in replies).
    pub syntax: Syntax,
    /// May see revenue figures (MRR, ARR, NRR, ...).
    pub revenue: bool,
    /// May snooze and acknowledge alerts.
    pub act: bool,
}

impl Caller {
    /// A caller judged by `access`: `ids` are what the platform's audiences list (Discord role
    /// ids; a Slack user's own id).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        syntax: Syntax,
        access: &Access,
        ids: &[&str],
    ) -> Caller {
        Caller {
            id: id.into(),
            name: name.into(),
            syntax,
            revenue: access.revenue.admits(ids.iter().copied()),
            act: access.act.admits(ids.iter().copied()),
        }
    }

    /// What silences and acknowledgements record as their author.
    pub fn signature(&self) -> String {
        let platform = match self.syntax {
            Syntax::Discord => "discord",
            Syntax::Slack => "slack",
        };
        format!("{} ({platform})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Audience;

    #[test]
    fn audiences_admit_by_any_held_id() {
        let access = Access {
            revenue: Audience::Only(["111".to_string()].into()),
            act: Audience::Everyone,
        };
        let finance = Caller::new("1", "ann", Syntax::Discord, &access, &["999", "111"]);
        assert!(finance.revenue && finance.act);
        let other = Caller::new("2", "bob", Syntax::Discord, &access, &["999"]);
        assert!(!other.revenue && other.act);
        let nobody = Access {
            revenue: Audience::Only(Default::default()),
            act: Audience::Only(Default::default()),
        };
        let c = Caller::new("3", "cy", Syntax::Slack, &nobody, &["3"]);
        assert!(!c.revenue && !c.act);
        assert_eq!(c.signature(), "cy (slack)");
    }
}
