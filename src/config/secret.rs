//! Secrets in the config file: a token or a webhook URL is written as `${ENV_VAR}` and read
//! from the environment when a channel or source is built, never stored in the file. A
//! [`Secret`] prints as its variable's name, so neither `Debug`, a log line nor an error message
//! can show the value.

use std::fmt;

/// A value held in an environment variable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    var: String,
}

/// A secret's variable is unset or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment variable {var} is not set (it holds the {what})")]
pub struct MissingSecret {
    pub var: String,
    pub what: String,
}

impl Secret {
    /// Parses `${NAME}`; `None` when the text is not of that form or the name is not a valid
    /// variable name (letters, digits, `_`, not starting with a digit).
    pub fn parse(text: &str) -> Option<Secret> {
        let var = text.trim().strip_prefix("${")?.strip_suffix('}')?;
        let valid = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        valid.then(|| Secret {
            var: var.to_string(),
        })
    }

    /// A secret read from `var` (for code that builds configs).
    pub fn from_env_var(var: impl Into<String>) -> Secret {
        Secret { var: var.into() }
    }

    /// The variable's name.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// Reads the value; `what` names it in the error ("Discord bot token of channel `cs`").
    pub fn resolve(&self, what: &str) -> Result<String, MissingSecret> {
        match std::env::var(&self.var) {
            Ok(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(MissingSecret {
                var: self.var.clone(),
                what: what.to_string(),
            }),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}}", self.var)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}}", self.var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_env_references() {
        assert_eq!(
            Secret::parse("${DISCORD_TOKEN}").unwrap().var(),
            "DISCORD_TOKEN"
        );
        assert_eq!(Secret::parse(" ${A1} ").unwrap().var(), "A1");
        for bad in ["xoxb-123", "${}", "${1A}", "${A-B}", "$A", "{A}"] {
            assert!(Secret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn never_shows_the_value() {
        let s = Secret::from_env_var("CS_PULSE_TEST_SECRET_SHOWN");
        std::env::set_var("CS_PULSE_TEST_SECRET_SHOWN", "hunter2");
        assert_eq!(s.resolve("test").unwrap(), "hunter2");
        assert_eq!(
            format!("{s} {s:?}"),
            "${CS_PULSE_TEST_SECRET_SHOWN} ${CS_PULSE_TEST_SECRET_SHOWN}"
        );
        let missing = Secret::from_env_var("CS_PULSE_TEST_SECRET_UNSET");
        assert_eq!(
            missing.resolve("Discord bot token").unwrap_err().to_string(),
            "the environment variable CS_PULSE_TEST_SECRET_UNSET is not set (it holds the Discord bot token)"
        );
    }
}
