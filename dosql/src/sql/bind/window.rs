//! Binding window function calls: `OVER (...)`, `OVER name`, the WINDOW
//! clause, and FILTER.
//!
//! Window calls are allowed only in a SELECT's result columns and ORDER
//! BY. Each call becomes a column placed after the row the window stage
//! receives (joined row, then aggregate results). The aggregate count is
//! only known once the whole SELECT is bound, so calls first get a
//! placeholder column `WIN_MARK + k`, rewritten by [`Binder::finish_windows`]:
//!
//! ```text
//!   bind:    sum(x) OVER w   -> Col(WIN_MARK + 0)
//!   finish:  Col(WIN_MARK + k) -> Col(width + aggs + k)
//! ```
//!
//! Named windows and inheritance (`OVER (w ORDER BY y)`) follow SQLite's
//! rules and error messages; a later WINDOW definition of a name wins.

use sqlparser::ast;

use super::Binder;
use crate::error::{Error, Result};
use crate::invalid;
use crate::sql::expr::Expr;
use crate::sql::func;
use crate::sql::plan::OrderKey;
use crate::sql::schema::collation_of;
use crate::sql::value::Collation;
use crate::sql::window::{Bound, Exclude, Frame, Units, WinFunc, WinKind, WindowDef, Windows};

/// Placeholder column of window call `k` until the layout is known.
const WIN_MARK: usize = usize::MAX / 2;

/// Window calls collected while binding one SELECT.
#[derive(Default)]
pub(super) struct Collector {
    /// WINDOW clause definitions, resolved against earlier ones.
    named: Vec<(String, ast::WindowSpec)>,
    defs: Vec<WindowDef>,
    funcs: Vec<WinFunc>,
    /// True while binding the clauses that may hold window calls.
    active: bool,
}

/// A call's pieces, as `Binder::function` took them apart.
pub(super) struct Call<'a> {
    pub name: &'a str,
    pub args: &'a [&'a ast::Expr],
    pub distinct: bool,
    pub filter: Option<&'a ast::Expr>,
}

/// An EXCLUDE clause smuggled through the parser as a window name prefix
/// (see `parse.rs`): `__exclude_<kind>__<base name or nothing>`.
pub(crate) const EXCLUDE_PREFIX: &str = "__exclude_";

fn split_exclude(name: &str) -> (Exclude, Option<&str>) {
    let Some(rest) = name.strip_prefix(EXCLUDE_PREFIX) else {
        return (Exclude::None, Some(name));
    };
    let (kind, base) = rest.split_once("__").unwrap_or((rest, ""));
    let exclude = match kind {
        "current" => Exclude::CurrentRow,
        "group" => Exclude::Group,
        "ties" => Exclude::Ties,
        _ => Exclude::NoOthers,
    };
    (exclude, (!base.is_empty()).then_some(base))
}

impl Binder<'_> {
    /// Starts collecting window calls in the innermost scope, with the
    /// SELECT's WINDOW clause.
    pub(super) fn start_windows(&mut self, named: &[ast::NamedWindowDefinition]) -> Result<()> {
        let mut c = Collector {
            active: true,
            ..Collector::default()
        };
        for ast::NamedWindowDefinition(name, expr) in named {
            let spec = match expr {
                ast::NamedWindowExpr::NamedWindow(base) => lookup(&c.named, &base.value)?.clone(),
                ast::NamedWindowExpr::WindowSpec(spec) => resolve(&c.named, spec)?,
            };
            c.named.push((name.value.clone(), spec));
        }
        self.scope_mut().windows = Some(c);
        Ok(())
    }

    /// Allows or refuses window calls from here on (HAVING, GROUP BY).
    pub(super) fn windows_allowed(&mut self, on: bool) {
        if let Some(c) = self.scope_mut().windows.as_mut() {
            c.active = on;
        }
    }

    /// Ends collection: rewrites placeholders in `exprs` to columns after
    /// `base`, and refuses window calls that reached `forbidden` (through
    /// an alias in HAVING or GROUP BY).
    pub(super) fn finish_windows(
        &mut self,
        base: usize,
        exprs: Vec<&mut Expr>,
        forbidden: Vec<&Expr>,
    ) -> Result<Option<Box<Windows>>> {
        let Some(c) = self.scope_mut().windows.take() else {
            return Ok(None);
        };
        if c.funcs.is_empty() {
            return Ok(None);
        }
        for e in forbidden {
            let mut found = false;
            e.walk(&mut |x| found |= matches!(x, Expr::Col { idx, .. } if *idx >= WIN_MARK));
            if found {
                return Err(invalid!("misuse of aliased window function"));
            }
        }
        for e in exprs {
            e.walk_mut(&mut |x| {
                if let Expr::Col { idx, .. } = x {
                    if *idx >= WIN_MARK {
                        *idx = base + (*idx - WIN_MARK);
                    }
                }
            });
        }
        Ok(Some(Box::new(Windows {
            defs: c.defs,
            funcs: c.funcs,
        })))
    }

    /// Binds `name(args) [FILTER (WHERE ...)] OVER window`.
    pub(super) fn window_call(&mut self, call: Call, over: &ast::WindowType) -> Result<Expr> {
        let name = call.name;
        let argc = call.args.len();
        let kind = match WinKind::builtin(name, argc) {
            Some(Ok(kind)) => kind,
            Some(Err(())) => {
                return Err(invalid!("wrong number of arguments to function {name}()"))
            }
            None if func::aggregate(name, argc, false).is_some() => WinKind::Agg(name.to_owned()),
            None if func::is_aggregate(name) => {
                return Err(invalid!("wrong number of arguments to function {name}()"))
            }
            None if (0..4).any(|n| func::scalar(name, n).is_some()) => {
                return Err(invalid!("{name}() may not be used as a window function"))
            }
            None => return Err(Error::NotFound(format!("no such function: {name}"))),
        };
        let allowed = self
            .scopes
            .last()
            .and_then(|s| s.windows.as_ref())
            .is_some_and(|c| c.active);
        if !allowed {
            return Err(invalid!("misuse of window function {name}()"));
        }
        if call.distinct {
            return Err(invalid!("DISTINCT is not supported for window functions"));
        }
        if call.filter.is_some() && !matches!(kind, WinKind::Agg(_)) {
            return Err(invalid!(
                "FILTER clause may only be used with aggregate window functions"
            ));
        }
        let spec = {
            let c = self.scope_mut().windows.as_ref().expect("checked above");
            match over {
                ast::WindowType::NamedWindow(id) => lookup(&c.named, &id.value)?.clone(),
                ast::WindowType::WindowSpec(spec) => resolve(&c.named, spec)?,
            }
        };
        // Nested window calls are misuse; aggregates inside are fine.
        self.windows_allowed(false);
        let bound = self.bind_call_parts(&call, &spec);
        self.windows_allowed(true);
        let (args, filter, def) = bound?;
        let coll = args
            .first()
            .and_then(|a| a.collation())
            .map_or(Collation::Binary, |c| c.0);
        let c = self.scope_mut().windows.as_mut().expect("checked above");
        c.defs.push(def);
        c.funcs.push(WinFunc {
            kind,
            args,
            filter,
            def: c.defs.len() - 1,
            coll,
        });
        Ok(Expr::Col {
            idx: WIN_MARK + c.funcs.len() - 1,
            aff: None,
            coll: Collation::Binary,
        })
    }

    fn bind_call_parts(
        &mut self,
        call: &Call,
        spec: &ast::WindowSpec,
    ) -> Result<(Vec<Expr>, Option<Expr>, WindowDef)> {
        let args = call
            .args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>>>()?;
        let filter = call.filter.map(|f| self.expr(f)).transpose()?;
        let def = self.window_def(spec)?;
        Ok((args, filter, def))
    }

    fn window_def(&mut self, spec: &ast::WindowSpec) -> Result<WindowDef> {
        let mut partition = Vec::with_capacity(spec.partition_by.len());
        for p in &spec.partition_by {
            let e = self.expr(p)?;
            let coll = e.collation().map_or(Collation::Binary, |c| c.0);
            partition.push((e, coll));
        }
        let mut order = Vec::with_capacity(spec.order_by.len());
        for term in &spec.order_by {
            let (inner, explicit) = match &term.expr {
                ast::Expr::Collate { expr, collation } => {
                    (expr.as_ref(), Some(collation_of(collation)?))
                }
                other => (other, None),
            };
            let expr = self.expr(inner)?;
            let coll = explicit
                .or(expr.collation().map(|c| c.0))
                .unwrap_or(Collation::Binary);
            let desc = matches!(term.options.sort, Some(ast::OrderBySort::Desc));
            order.push(OrderKey {
                expr,
                desc,
                nulls_first: term.options.nulls_first.unwrap_or(!desc),
                coll,
            });
        }
        let exclude = spec
            .window_name
            .as_ref()
            .map_or(Exclude::None, |n| split_exclude(&n.value).0);
        let frame = match &spec.window_frame {
            None => Frame {
                exclude,
                ..Frame::default_frame()
            },
            Some(f) => self.frame(f, exclude, order.len())?,
        };
        Ok(WindowDef {
            partition,
            order,
            frame,
        })
    }

    fn frame(&mut self, f: &ast::WindowFrame, exclude: Exclude, keys: usize) -> Result<Frame> {
        use ast::WindowFrameBound as B;
        let units = match f.units {
            ast::WindowFrameUnits::Rows => Units::Rows,
            ast::WindowFrameUnits::Range => Units::Range,
            ast::WindowFrameUnits::Groups => Units::Groups,
        };
        let end = f.end_bound.clone().unwrap_or(B::CurrentRow);
        if matches!(f.start_bound, B::Following(None)) {
            return Err(Error::Syntax("near \"FOLLOWING\": syntax error".into()));
        }
        if matches!(end, B::Preceding(None)) {
            return Err(Error::Syntax("near \"PRECEDING\": syntax error".into()));
        }
        let class = |b: &B| match b {
            B::Preceding(_) => 0,
            B::CurrentRow => 1,
            B::Following(_) => 2,
        };
        if class(&end) < class(&f.start_bound) {
            return Err(invalid!("unsupported frame specification"));
        }
        let has_offset = |b: &B| matches!(b, B::Preceding(Some(_)) | B::Following(Some(_)));
        if units == Units::Range && (has_offset(&f.start_bound) || has_offset(&end)) && keys != 1 {
            return Err(invalid!(
                "RANGE with offset PRECEDING/FOLLOWING requires one ORDER BY expression"
            ));
        }
        let start = self.bound(&f.start_bound)?;
        let end = self.bound(&end)?;
        Ok(Frame {
            units,
            start,
            end,
            exclude,
        })
    }

    fn bound(&mut self, b: &ast::WindowFrameBound) -> Result<Bound> {
        use ast::WindowFrameBound as B;
        let mut offset = |e: &ast::Expr| -> Result<Expr> {
            // sqlparser reads a string before PRECEDING as an INTERVAL.
            let e = match e {
                ast::Expr::Interval(iv) if iv.leading_field.is_none() => iv.value.as_ref(),
                other => other,
            };
            // As SQLite's sqlite3WindowOffsetExpr, an offset that is not a
            // constant (a column, a subquery) becomes NULL, which the
            // executor then refuses with SQLite's message.
            self.push_scope(Vec::new());
            let bound = self.expr(e);
            self.pop_scope();
            Ok(match bound {
                Ok(x) if !x.has_subquery() && !reads_columns(&x) => x,
                _ => Expr::Lit(crate::sql::value::Value::Null),
            })
        };
        Ok(match b {
            B::CurrentRow => Bound::Current,
            B::Preceding(None) | B::Following(None) => Bound::Unbounded,
            B::Preceding(Some(e)) => Bound::Preceding(offset(e)?),
            B::Following(Some(e)) => Bound::Following(offset(e)?),
        })
    }
}

fn reads_columns(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| found |= matches!(x, Expr::Col { .. } | Expr::Outer { .. }));
    found
}

fn lookup<'a>(named: &'a [(String, ast::WindowSpec)], name: &str) -> Result<&'a ast::WindowSpec> {
    named
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| s)
        .ok_or_else(|| invalid!("no such window: {name}"))
}

/// A window specification with its base window (`(w ORDER BY ...)`)
/// merged in, under SQLite's override rules.
fn resolve(named: &[(String, ast::WindowSpec)], spec: &ast::WindowSpec) -> Result<ast::WindowSpec> {
    let (exclude, base_name) = match &spec.window_name {
        Some(n) => split_exclude(&n.value),
        None => (Exclude::None, None),
    };
    let mut out = spec.clone();
    if let Some(base_name) = base_name {
        let base = lookup(named, base_name)?;
        let refuse = |what: &str| invalid!("cannot override {what} of window: {base_name}");
        if !spec.partition_by.is_empty() {
            return Err(refuse("PARTITION clause"));
        }
        if !base.order_by.is_empty() && !spec.order_by.is_empty() {
            return Err(refuse("ORDER BY clause"));
        }
        if base.window_frame.is_some() {
            return Err(refuse("frame specification"));
        }
        out.partition_by = base.partition_by.clone();
        if spec.order_by.is_empty() {
            out.order_by = base.order_by.clone();
        }
    }
    // Keep only the EXCLUDE marker: the base is merged in.
    out.window_name = match exclude {
        Exclude::None => None,
        _ => spec.window_name.as_ref().map(|n| {
            let kind = n.value.strip_prefix(EXCLUDE_PREFIX).unwrap_or_default();
            let kind = kind.split_once("__").map_or(kind, |(k, _)| k);
            ast::Ident::new(format!("{EXCLUDE_PREFIX}{kind}"))
        }),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_markers_split_into_kind_and_base() {
        assert_eq!(split_exclude("w"), (Exclude::None, Some("w")));
        assert_eq!(
            split_exclude("__exclude_ties__w"),
            (Exclude::Ties, Some("w"))
        );
        assert_eq!(
            split_exclude("__exclude_current"),
            (Exclude::CurrentRow, None)
        );
        assert_eq!(split_exclude("__exclude_no"), (Exclude::NoOthers, None));
    }
}
