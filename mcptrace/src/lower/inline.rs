//! Variables where the kernel needs them. A variable lives in user space,
//! but its value is an expression of what the probe captured and read
//! (`$d = nsecs - @start[tid]`), which the kernel can compute again where a
//! map key, map value or predicate uses the variable (`@h = hist($d)`).
//! So while the statements run straight, each variable stands for the
//! expression last assigned to it; a branch or loop that may assign it
//! makes its value unknown until the next assignment.

use std::collections::HashSet;

use super::expr::Exprs;
use crate::lang::ast::{Block, Expr, ExprKind, Stmt, StmtKind};

impl Exprs<'_> {
    /// `e` with each variable that stands for an expression replaced by it.
    pub(super) fn inlined(&self, e: &Expr) -> Expr {
        let mut out = e.clone();
        self.inline_into(&mut out);
        out
    }

    fn inline_into(&self, e: &mut Expr) {
        if let ExprKind::Var(name) = &e.kind {
            if let Some(def) = self.defs.get(name) {
                *e = def.clone();
            }
            return;
        }
        for child in e.children_mut() {
            self.inline_into(child);
        }
    }

    /// `$name = value` ran: from here `$name` stands for `value`.
    pub(super) fn define(&mut self, name: &str, value: &Expr) {
        let def = self.inlined(value);
        self.defs.insert(name.to_string(), def);
    }

    /// Forgets the variables statement `s` (a branch or a loop) may
    /// assign: after it, and in a loop's body, whose passes change them,
    /// their values are unknown here.
    pub(super) fn forget_assigned(&mut self, s: &Stmt) {
        let block = Block { stmts: vec![s.clone()], span: s.span };
        for name in assigned(&block) {
            self.defs.remove(&name);
        }
    }
}

/// The variables `block` assigns, nested blocks included.
fn assigned(block: &Block) -> HashSet<String> {
    let mut names = HashSet::new();
    block.each_stmt(&mut |s| {
        match &s.kind {
            StmtKind::Let { var, .. } | StmtKind::For { var, .. } => {
                names.insert(var.clone());
            }
            _ => {}
        }
        for e in s.exprs() {
            e.each(&mut |e| {
                if let ExprKind::Step { target, .. } = &e.kind
                    && let ExprKind::Var(n) = &target.kind
                {
                    names.insert(n.clone());
                }
            });
        }
        if let StmtKind::Assign { target: Expr { kind: ExprKind::Var(n), .. }, .. } = &s.kind {
            names.insert(n.clone());
        }
    });
    names
}
