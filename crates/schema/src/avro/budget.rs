//! A bound on the work of apache-avro's compatibility checker, which has none of its own: it compares writer
//! and reader node pairs, matches record fields and enum symbols pairwise, and formats both whole subtrees
//! into every type-mismatch error (a crafted union of same-named records against one of same-named enums makes
//! that cubic). Before a check, [`within`] walks the same pairs, each once, adding that work up, and stops as
//! soon as it exceeds the budget; the check then fails closed as too complex, so no schema can hold a thread
//! for long. Ordinary evolutions (fields matched by name, small unions) cost a tiny fraction of it.

use std::collections::{HashMap, HashSet};
use std::mem::discriminant;

use apache_avro::Schema as Avro;

/// Work units one check may take, about a second of checking on one core at worst.
pub(super) const MAX_WORK: u64 = 16_000_000;
/// What visiting one pair costs (hashing, the memo), and formatting one node of a mismatch error.
const PAIR: u64 = 16;
const FORMATTED_NODE: u64 = 32;

/// Whether checking `reader` against `writer` stays within `budget` work units.
pub(super) fn within(writer: &Avro, reader: &Avro, budget: u64) -> bool {
    let mut walk = Walk { seen: HashSet::new(), sizes: HashMap::new(), work: 0, budget };
    walk.pair(writer, reader)
}

struct Walk {
    seen: HashSet<(*const Avro, *const Avro)>,
    sizes: HashMap<*const Avro, u64>,
    work: u64,
    budget: u64,
}

impl Walk {
    fn add(&mut self, work: u64) -> bool {
        self.work = self.work.saturating_add(work);
        self.work <= self.budget
    }

    /// The work of comparing `w` and `r` and what they contain; false once over the budget.
    fn pair(&mut self, w: &Avro, r: &Avro) -> bool {
        if !self.seen.insert((w as *const Avro, r as *const Avro)) {
            return true;
        }
        if !self.add(PAIR) {
            return false;
        }
        if let (Some(wn), Some(rn)) = (w.name(), r.name())
            && wn.name() != rn.name()
        {
            return true;
        }
        match (w, r) {
            (Avro::Union(wu), Avro::Union(ru)) => {
                wu.variants().iter().all(|wb| ru.variants().iter().all(|rb| self.pair(wb, rb)))
            }
            (Avro::Union(wu), _) => wu.variants().iter().all(|wb| self.pair(wb, r)),
            (_, Avro::Union(ru)) => ru.variants().iter().all(|rb| self.pair(w, rb)),
            (Avro::Array(wa), Avro::Array(ra)) => self.pair(&wa.items, &ra.items),
            (Avro::Map(wm), Avro::Map(rm)) => self.pair(&wm.types, &rm.types),
            (Avro::Record(wr), Avro::Record(rr)) => {
                let names: u64 = rr.fields.iter().map(|f| 1 + f.aliases.len() as u64).sum();
                if !self.add(names.saturating_mul(wr.fields.len() as u64)) {
                    return false;
                }
                rr.fields.iter().all(|rf| {
                    let found = std::iter::once(&rf.name)
                        .chain(rf.aliases.iter())
                        .find_map(|n| wr.fields.iter().find(|wf| &wf.name == n));
                    found.is_none_or(|wf| self.pair(&wf.schema, &rf.schema))
                })
            }
            (Avro::Enum(we), Avro::Enum(re)) => {
                self.add((we.symbols.len() as u64).saturating_mul(re.symbols.len() as u64))
            }
            _ if discriminant(w) != discriminant(r) => {
                let nodes = self.size(w).saturating_add(self.size(r));
                self.add(nodes.saturating_mul(FORMATTED_NODE))
            }
            _ => true,
        }
    }

    /// The nodes of `schema`'s tree (references to named types count one), as a mismatch error formats them.
    fn size(&mut self, schema: &Avro) -> u64 {
        if let Some(size) = self.sizes.get(&(schema as *const Avro)) {
            return *size;
        }
        let size = 1 + match schema {
            Avro::Record(r) => r.fields.iter().map(|f| 1 + self.size(&f.schema)).sum::<u64>(),
            Avro::Union(u) => u.variants().iter().map(|v| self.size(v)).sum(),
            Avro::Array(a) => self.size(&a.items),
            Avro::Map(m) => self.size(&m.types),
            Avro::Enum(e) => e.symbols.len() as u64,
            _ => 0,
        };
        self.sizes.insert(schema as *const Avro, size);
        size
    }
}
