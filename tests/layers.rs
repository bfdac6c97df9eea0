//! The shape of the code, held by tests: no dependency cycle between the
//! modules of `src/`, no function longer than 80 lines, no part of the tab
//! (`src/client/provider/`) of 400 lines or more. Both read the
//! sources as text, which rustfmt's layout makes regular: a function's body
//! closes on a line of its own at the indentation it opened at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONGEST_FUNCTION_LINES: usize = 80;

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

/// `src/client/leader.rs` is `client::leader`; `src/sim/mod.rs` is `sim`.
fn module_of(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)]` tail.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable source");
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` or `super::c` path in `code`, resolved to the longest
/// module prefix that exists.
fn uses(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let parent: Vec<&str> = module
        .rsplit_once("::")
        .map_or(vec![], |(p, _)| p.split("::").collect());
    for (start, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let path: String = code[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        let base: Vec<&str> = if parts[0] == "crate" {
            vec![]
        } else {
            parent.clone()
        };
        parts.remove(0);
        let full: Vec<&str> = base.into_iter().chain(parts).collect();
        for k in (1..=full.len()).rev() {
            let candidate = full[..k].join("::");
            if modules.contains(&candidate) {
                // A module and its own children are one unit: `mod` declarations and
                // `super::` items point along the tree, not across it.
                let related = candidate == module
                    || module.starts_with(&format!("{candidate}::"))
                    || candidate.starts_with(&format!("{module}::"));
                if !related {
                    found.insert(candidate);
                }
                break;
            }
        }
    }
    found
}

#[test]
fn no_dependency_cycle_between_modules() {
    let files = sources();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let graph: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|f| {
            let m = module_of(f);
            let u = uses(&m, &code(f), &modules);
            (m, u)
        })
        .collect();
    assert!(graph.len() > 30, "found only {} modules", graph.len());
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(m, uses)| uses.iter().map(move |u| (m, u)))
        .filter(|(m, u)| reaches(u, m))
        .map(|(m, u)| format!("{m} -> {u} -> ... -> {m}"))
        .collect();
    assert!(
        cycles.is_empty(),
        "dependency cycles:\n{}",
        cycles.join("\n")
    );
}

/// (file, function, first line, length) of every function in `path`.
fn functions(path: &Path) -> Vec<(String, usize, usize)> {
    let text = std::fs::read_to_string(path).expect("readable source");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let sig = [
            "pub fn ",
            "fn ",
            "pub(crate) fn ",
            "const fn ",
            "pub const fn ",
            "async fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p));
        let Some(rest) = sig else { continue };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A declaration without a body (in a trait) ends on its own line.
        let Some(open) =
            (i..lines.len()).find(|&j| lines[j].ends_with('{') || lines[j].ends_with(';'))
        else {
            continue;
        };
        if lines[open].ends_with(';') {
            continue;
        }
        let close = (open..lines.len()).find(|&j| {
            let l = lines[j];
            l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
        });
        if let Some(close) = close {
            out.push((name, i + 1, close - i + 1));
        }
    }
    out
}

#[test]
fn no_function_in_src_is_over_80_lines() {
    let mut long = Vec::new();
    let mut counted = 0;
    for f in sources() {
        for (name, line, length) in functions(&f) {
            counted += 1;
            if length > LONGEST_FUNCTION_LINES {
                long.push(format!("{}:{line} {name}: {length} lines", f.display()));
            }
        }
    }
    assert!(counted > 500, "found only {counted} functions");
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// A tab's provider is split into parts each readable in one sitting.
const LONGEST_TAB_PART_LINES: usize = 400;

#[test]
fn no_part_of_the_tab_is_over_400_lines() {
    let parts: Vec<PathBuf> = sources()
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("client/provider")))
        .collect();
    assert!(parts.len() >= 5, "the tab's parts: {parts:?}");
    for p in parts {
        let lines = std::fs::read_to_string(&p)
            .expect("readable")
            .lines()
            .count();
        assert!(
            lines < LONGEST_TAB_PART_LINES,
            "{} has {lines} lines (at most {LONGEST_TAB_PART_LINES})",
            p.display()
        );
    }
}
