// Roles: what the signed-in agent may do, so the view hides or disables what their role may not
// use instead of letting it fail (the server refuses it anyway: 403 `forbidden`, whose message
// names who may). Pure: unit-tested in test/roles.test.ts.

import type { Key } from './i18n';
import type { Agent, Role } from './types';

/** Highest first. */
export const ROLES: Role[] = ['admin', 'supervisor', 'agent'];

const RANK: Record<Role, number> = { agent: 0, supervisor: 1, admin: 2 };

/** The actions some role may not take. */
export type Permission =
  | 'editRules'
  | 'editFaq'
  | 'manageAgents'
  | 'editCanned'
  | 'reports'
  | 'merge'
  | 'assignOthers'
  | 'allAiCalls'
  | 'exportContact'
  | 'eraseContact';

/** The least role each action needs (as the server enforces it). */
export const NEEDS: Record<Permission, Role> = {
  editRules: 'admin',
  editFaq: 'admin',
  manageAgents: 'admin',
  editCanned: 'supervisor',
  reports: 'supervisor',
  merge: 'supervisor',
  assignOthers: 'supervisor',
  allAiCalls: 'supervisor',
  exportContact: 'admin',
  eraseContact: 'admin',
};

/** An agent's role; null when the server sends none (a server without roles) or one this build does not know. */
export function roleOf(a: Pick<Agent, 'role'> | null | undefined): Role | null {
  const r = a?.role;
  return r === 'admin' || r === 'supervisor' || r === 'agent' ? r : null;
}

/** Whether `role` is `need` or above. */
export function atLeast(role: Role, need: Role): boolean {
  return RANK[role] >= RANK[need];
}

/**
 * Whether an agent of `role` may take the action. A server without roles (null) enforces none:
 * everything is offered, as before roles existed.
 */
export function may(role: Role | null, p: Permission): boolean {
  return role === null || atLeast(role, NEEDS[p]);
}

/** The tooltip of a control the role may not use: "Only an admin may change the routing rules." */
export function denyKey(p: Permission): Key {
  return `deny_${p}` as Key;
}

/** The role's name in the UI language ("Admin", "Supervisor", "Agent"). */
export function roleKey(role: Role): Key {
  return `role_${role}` as Key;
}

/** What the role may do, one line (the account menu's explanation). */
export function roleHintKey(role: Role): Key {
  return `roleHint_${role}` as Key;
}

/** The other agents a conversation may be given to: enabled ones only (a disabled agent takes none). */
export function transferTargets(agents: Agent[], me: string, assignee: string | null): Agent[] {
  return agents.filter((a) => a.id !== me && a.id !== assignee && !a.disabled);
}

/** The agents page's order: enabled before disabled, then admins, supervisors, agents, then by name. */
export function byRoleAndName(a: Agent, b: Agent): number {
  if (!!a.disabled !== !!b.disabled) return a.disabled ? 1 : -1;
  const ra = RANK[roleOf(a) ?? 'agent'];
  const rb = RANK[roleOf(b) ?? 'agent'];
  if (ra !== rb) return rb - ra;
  return a.name.localeCompare(b.name);
}
