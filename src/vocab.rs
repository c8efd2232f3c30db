//! Controlled vocabularies: each enum's stored value (English, in the database and the API) and its
//! Chinese label (in the UI), declared once with [`vocabulary!`].

/// Declares an enum whose variants map to a stored string and a Chinese label, with `as_str`,
/// `label`, `parse` and `ALL`, plus serde as the stored string.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $value:literal => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($value => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// In the OpenAPI document: a string enum of the stored values, labels in the description.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($value),+]))
                    .description(Some(concat!($($value, " = ", $label, "; "),+)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", stringify!($name), ": {}"), text))
                })
            }
        }
    };
}

/// Looks up the Chinese label of a stored value, by vocabulary name (used by templates).
pub fn label(vocabulary: &str, value: &str) -> Option<&'static str> {
    use crate::agencies::AgencyKind;
    use crate::directory::PersonKind;
    use crate::documents::DocumentKind;
    use crate::followup::CommitmentStatus;
    use crate::workflow::Rating;
    use crate::workflow::ResponseKind;
    use crate::workflow::{AssignmentRole, Channel, ProposalStatus};
    match vocabulary {
        "status" => ProposalStatus::parse(value).map(ProposalStatus::label),
        "channel" => Channel::parse(value).map(Channel::label),
        "person_kind" => PersonKind::parse(value).map(PersonKind::label),
        "agency_kind" => AgencyKind::parse(value).map(AgencyKind::label),
        "response_kind" => ResponseKind::parse(value).map(ResponseKind::label),
        "document_kind" => DocumentKind::parse(value).map(DocumentKind::label),
        "commitment_status" => CommitmentStatus::parse(value).map(CommitmentStatus::label),
        "assignment_role" => AssignmentRole::parse(value).map(AssignmentRole::label),
        "rating" => Rating::parse(value).map(Rating::label),
        "role" => crate::accounts::Role::parse(value).map(crate::accounts::Role::label),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    crate::vocabulary! {
        enum Colour { Red = "red" => "红", Blue = "blue" => "蓝" }
    }

    #[test]
    fn round_trips_and_labels() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Some(*colour));
        }
        assert_eq!(Colour::Blue.label(), "蓝");
        assert_eq!(Colour::parse("green"), None);
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
    }

    #[test]
    fn template_labels_cover_every_vocabulary() {
        assert_eq!(super::label("status", "closed"), Some("已办结"));
        assert_eq!(super::label("channel", "hotline_12345"), Some("12345热线"));
        assert_eq!(super::label("status", "nonsense"), None);
    }
}
