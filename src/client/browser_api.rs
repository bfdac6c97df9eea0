//! The browser APIs a tab's machines use (SPEC B1-B3): what they read of them
//! through `BrowserView`, and what they ask of them as an `Effect` their host
//! carries out. A tab sees its own writes once its host has carried them out,
//! which it does before the tab runs again (see `crate::machine`).

/// What a tab may read of its browser without changing it.
pub trait BrowserView {
    /// `localStorage.getItem(key)`, as this tab sees storage now.
    fn storage_get(&self, key: &str) -> Option<String>;
    /// Whether the tab has a channel to the others (a BroadcastChannel, or the L6 mailbox).
    fn broadcast_enabled(&self) -> bool;
    /// Whether `navigator.locks` would take a request from this tab now.
    fn locks_available(&self) -> bool;
    /// B4: the page is frozen and runs only its channel handler: none of
    /// its timers, so no work that was due before this input.
    fn frozen(&self) -> bool {
        false
    }
}

/// What a tab asks its browser to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// `localStorage.setItem(key, value)`, or `removeItem` for `None`.
    StorageSet { key: String, value: Option<String> },
    /// `postMessage` on the named channel (or its L6 fallback).
    Broadcast { channel: String, data: MessageData },
    /// `navigator.locks.request(name)`: the grant comes back as an input.
    LockRequest { name: String },
    /// Release `name`, or withdraw a request for it not yet granted.
    LockRelease { name: String },
}

/// The data of a channel message, shared by every tab it reaches: its text,
/// and what it reads as, so receivers take a copy of that instead of
/// parsing the text again (parsing once per receiving tab was a tenth of a
/// run's instructions, issue 19). Every receiver reads the same text as the
/// same type, so a copy is what its own parse would have made. A message
/// made with `of` starts with what it was made from, as the machines' messages
/// parse back to what wrote them (`reads_back`, tested for each kind).
#[derive(Clone)]
pub struct MessageData(std::sync::Arc<Shared>);

struct Shared {
    text: String,
    read: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
}

impl MessageData {
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// `value` as JSON, read as `value` already.
    pub fn of<T>(value: T) -> Self
    where
        T: serde::Serialize + Send + Sync + 'static,
    {
        let text = serde_json::to_string(&value).expect("a channel message serialises");
        let read = std::sync::OnceLock::new();
        let _ = read.set(Box::new(Some(value)) as Box<dyn std::any::Any + Send + Sync>);
        MessageData(std::sync::Arc::new(Shared { text, read }))
    }

    /// The text as JSON of a `T`, or `None` if it is not one.
    pub fn read<T>(&self) -> Option<T>
    where
        T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let parse = || serde_json::from_str::<T>(&self.0.text).ok();
        let read = self.0.read.get_or_init(|| Box::new(parse()));
        match read.downcast_ref::<Option<T>>() {
            Some(value) => value.clone(),
            // A receiver reading it as another type (none does) parses its own.
            None => parse(),
        }
    }
}

impl From<String> for MessageData {
    fn from(text: String) -> Self {
        MessageData(std::sync::Arc::new(Shared {
            text,
            read: std::sync::OnceLock::new(),
        }))
    }
}

impl From<&str> for MessageData {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl PartialEq for MessageData {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for MessageData {}

impl std::fmt::Display for MessageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for MessageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// `value` made into a message reads as a receiver's own parse of its text
/// would: what `MessageData::of` relies on, for each kind of message.
#[cfg(test)]
pub(crate) fn reads_back<T>(value: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone + PartialEq + std::fmt::Debug,
    T: Send + Sync + 'static,
{
    let made = MessageData::of(value.clone());
    let parsed = MessageData::from(made.as_str()).read::<T>();
    assert_eq!(parsed.as_ref(), Some(&value), "{made}");
    assert_eq!(made.read::<T>(), parsed, "{made}");
}

#[cfg(test)]
mod tests {
    use super::{reads_back, MessageData};
    use crate::client::auth::AuthMessage;
    use crate::client::leader::ChannelMessage;
    use crate::event::{sample_event, Action, EntityType};
    use crate::time::SimTime;

    /// Every kind of message the machines broadcast, with its optional
    /// fields both ways, parses back to what wrote it.
    #[test]
    fn the_machines_messages_read_back() {
        for cursor in [None, Some(0), Some(u64::MAX)] {
            reads_back(ChannelMessage::Heartbeat {
                tab: 3,
                seq: 9,
                cursor,
            });
        }
        let mut full = sample_event(7, 2, EntityType::Revenue, Action::Updated, 4);
        full.user_id = Some(5);
        full.event_id = crate::event::EventId(u128::MAX - 1);
        full.mutation = Some(u64::MAX);
        full.metadata.created_by = Some(11);
        full.metadata.days_ago = 6;
        full.metadata.pending = true;
        full.metadata.amount_cents = -250;
        let bare = sample_event(8, 3, EntityType::Revenue, Action::Added, 1);
        for refetch in [false, true] {
            reads_back(ChannelMessage::Events {
                tab: 1,
                seq: 2,
                since: 6,
                cursor: 8,
                refetch,
                events: vec![full.clone(), bare.clone()],
            });
        }
        reads_back(ChannelMessage::Events {
            tab: 0,
            seq: 0,
            since: 0,
            cursor: 0,
            refetch: false,
            events: vec![],
        });
        for msg in [
            AuthMessage::RefreshStarted { session: 1 },
            AuthMessage::RefreshSuccess {
                session: 2,
                token: "t\"o\\k\u{e9}n".to_string(),
                expires_at: SimTime(90_000),
            },
            AuthMessage::RefreshFailed {
                session: 3,
                failures: 4,
                retry_at: SimTime(5),
            },
            AuthMessage::Logout { session: 6 },
        ] {
            reads_back(msg);
        }
    }

    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Ping {
        n: u32,
    }

    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Other {
        m: u32,
    }

    #[test]
    fn every_receiver_reads_what_its_own_parse_would() {
        let sent = MessageData::from(r#"{"n":7}"#);
        let (first, second) = (sent.clone(), sent.clone());
        assert_eq!(first.read::<Ping>(), Some(Ping { n: 7 }));
        assert_eq!(
            second.read::<Ping>(),
            Some(Ping { n: 7 }),
            "the shared copy"
        );
        // Read as another type, it parses for itself rather than take the other's.
        assert_eq!(second.read::<Other>(), None);
        let both = MessageData::from(r#"{"n":1,"m":2}"#);
        assert_eq!(both.read::<Ping>(), Some(Ping { n: 1 }));
        assert_eq!(both.read::<Other>(), Some(Other { m: 2 }));
        assert_eq!(MessageData::from("not json").read::<Ping>(), None);
        assert_eq!(sent.as_str(), r#"{"n":7}"#);
    }
}
