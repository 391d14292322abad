// Which of a customer's follows the signed-in user may change (tags go to WeCom per follow), as the
// API decides it (contacts.selectors.follow_scope_q): admins and operators every active follow; a
// sales member its own, or every one when its data scope is "all". A "departments" scope also covers
// its departments' staff, which the dashboard cannot tell apart: every active follow is offered and
// the API acts only on those in scope (the editor says so when nothing changed).
import type { Schemas } from "../../api/client";
import type { Role } from "../../auth";

type Follow = Schemas["Follow"];
type Me = Schemas["Me"];

export function myMembership(me: Me | null): Schemas["MyMembership"] | undefined {
  const tenant = me?.active_tenant;
  if (!tenant) return undefined;
  return me.memberships.find((m) => m.tenant.id === tenant.id);
}

export function actionableFollows(follows: Follow[], me: Me | null, role: Role | null): Follow[] {
  const active = follows.filter((follow) => follow.status === "active");
  if (role === "admin" || role === "operator") return active;
  if (role !== "sales") return [];
  const membership = myMembership(me);
  if (!membership) return [];
  const scope = membership.data_scope ?? "self";
  if (scope === "all" || scope === "departments") return active;
  const userid = membership.wecom_userid;
  return userid ? active.filter((follow) => follow.staff.userid === userid) : [];
}

/** The tags on some follows: their union, in order of first appearance. */
export function tagsOf(follows: Follow[]): number[] {
  const ids: number[] = [];
  for (const follow of follows) for (const tag of follow.tags) if (!ids.includes(tag.id)) ids.push(tag.id);
  return ids;
}
