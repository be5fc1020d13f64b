//! Bounded, trimmed, printable text for names, descriptions and the like.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Non-empty text of at most `MAX` characters without control characters (newlines and tabs
/// allowed). Leading and trailing whitespace is trimmed, so "  TV " and "TV" are one name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.chars().count() > MAX {
            return Err(format!("must be at most {MAX} characters"));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters".into());
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> String {
        text.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            Text::<5>::try_from(" abc ".to_owned()).unwrap().as_str(),
            "abc"
        );
        assert!(Text::<5>::try_from("abcdef".to_owned()).is_err());
        assert!(Text::<5>::try_from("   ".to_owned()).is_err());
        assert!(Text::<5>::try_from("a\u{0}b".to_owned()).is_err());
        assert!(
            Text::<5>::try_from("äöü".to_owned()).is_ok(),
            "counts characters, not bytes"
        );
    }
}
