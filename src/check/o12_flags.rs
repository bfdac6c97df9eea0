//! O12: the rollout flags (C13) hold. A page in shadow mode applies nothing
//! (events reach diagnostics only), and a page of an org that is killed or
//! outside the rollout makes no stream call at all.

use super::history::{Observation, RequestKind};
use super::{Evidence, Violation};
use crate::client::flags::Realtime;

/// The org in a tab's name, `org<i>/browser<j>/tab<k>`.
fn org_of(tab: &str) -> Option<u32> {
    tab.strip_prefix("org")?.split('/').next()?.parse().ok()
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let flags = &ev.scenario.config.provider.flags;
    let mode = |tab: &str| org_of(tab).map(|o| flags.realtime_for(o));
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let (tab, detail) = match &step.obs {
            Observation::Applied { tab, seq, .. } if mode(tab) == Some(Realtime::Shadow) => {
                (tab, format!("applied seq {seq} to the page in shadow mode"))
            }
            Observation::Request {
                tab,
                what: RequestKind::Poll,
                path,
                ..
            } if mode(tab) == Some(Realtime::Off) => (
                tab,
                format!(
                    "stream call {path} from an org without realtime (killed or not rolled out)"
                ),
            ),
            _ => continue,
        };
        out.push(Violation {
            oracle: "O12",
            t: step.t,
            subject: tab.clone(),
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_org_from_a_tab_name() {
        assert_eq!(super::org_of("org12/browser0/tab3"), Some(12));
        assert_eq!(super::org_of("server"), None);
    }
}
