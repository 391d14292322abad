import { describe, expect, it } from "vitest";

import type { Schemas } from "../../api/client";
import { actionableFollows, tagsOf } from "./follows";

type Follow = Schemas["Follow"];
type Me = Schemas["Me"];

function follow(userid: string, status: Follow["status"], tags: number[]): Follow {
  return {
    staff: { userid, name: userid },
    remark: "",
    description: "",
    remark_corp_name: "",
    remark_mobiles: [],
    add_way: 1,
    state: "",
    tags: tags.map((id) => ({ id, name: `tag ${id}`, group_id: 1 })),
    added_at: null,
    status,
    ended_at: null,
  };
}

function me(role: "admin" | "operator" | "sales", data_scope: "all" | "departments" | "self", wecom_userid: string): Me {
  const tenant = { id: 1, slug: "a", name: "A" };
  return {
    id: 7,
    username: "u",
    email: "u@example.com",
    active_tenant: tenant,
    role,
    memberships: [
      { tenant: { id: 2, slug: "b", name: "B" }, role: "sales", data_scope: "self", wecom_userid: "zhangwei" },
      { tenant, role, data_scope, wecom_userid },
    ],
    csrf_token: "",
  };
}

const follows = [
  follow("zhangwei", "active", [1, 2]),
  follow("lina", "active", [2, 3]),
  follow("wangfang", "deleted_by_customer", [4]),
];

describe("actionableFollows", () => {
  it("gives admins and operators every active follow", () => {
    expect(actionableFollows(follows, me("admin", "all", ""), "admin").map((f) => f.staff.userid)).toEqual([
      "zhangwei",
      "lina",
    ]);
    expect(actionableFollows(follows, me("operator", "all", ""), "operator")).toHaveLength(2);
  });

  it("gives a sales member only its own active follow", () => {
    const mine = actionableFollows(follows, me("sales", "self", "lina"), "sales");
    expect(mine.map((f) => f.staff.userid)).toEqual(["lina"]);
    expect(tagsOf(mine)).toEqual([2, 3]);
  });

  it("gives nothing when the sales member's follow has ended, or it has no WeCom userid", () => {
    expect(actionableFollows(follows, me("sales", "self", "wangfang"), "sales")).toEqual([]);
    expect(actionableFollows(follows, me("sales", "self", ""), "sales")).toEqual([]);
  });

  it("reads the membership of the active tenant", () => {
    const session = me("sales", "self", "lina");
    session.active_tenant = { id: 2, slug: "b", name: "B" };
    // In tenant B this user is another WeCom member.
    expect(actionableFollows(follows, session, "sales").map((f) => f.staff.userid)).toEqual(["zhangwei"]);
  });

  it("leaves a wider data scope to the API", () => {
    expect(actionableFollows(follows, me("sales", "all", "lina"), "sales")).toHaveLength(2);
    expect(actionableFollows(follows, me("sales", "departments", "lina"), "sales")).toHaveLength(2);
  });

  it("gives nothing without a session", () => {
    expect(actionableFollows(follows, null, null)).toEqual([]);
  });
});

describe("tagsOf", () => {
  it("is the union of the follows' tags in order", () => {
    expect(tagsOf(follows)).toEqual([1, 2, 3, 4]);
  });
});
