//! A run's topology: how many orgs, properties, browsers and tabs (the
//! scenario's `[topology]`), which faults and the drivers address.

#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub orgs: u32,
    pub properties_per_org: u32,
    pub browsers_per_org: u32,
    pub tabs_per_browser: u32,
}
