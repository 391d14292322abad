import { describe, expect, it } from "vitest";

import { byWeComOrder, type Ordered, planMove } from "./order";

/** Apply the changes and return the ids in the order the API would list them. */
function after(items: Ordered[], changes: Ordered[]): number[] {
  const orders = new Map(changes.map((c) => [c.id, c.order]));
  return byWeComOrder(items.map((item) => ({ ...item, order: orders.get(item.id) ?? item.order }))).map((i) => i.id);
}

describe("byWeComOrder", () => {
  it("puts larger orders first and breaks ties by id", () => {
    const items = [
      { id: 3, order: 1 },
      { id: 2, order: 5 },
      { id: 1, order: 1 },
    ];
    expect(byWeComOrder(items).map((i) => i.id)).toEqual([2, 1, 3]);
  });
});

describe("planMove", () => {
  const distinct = [
    { id: 10, order: 30 },
    { id: 11, order: 20 },
    { id: 12, order: 10 },
  ];

  it("swaps two neighbours' distinct orders", () => {
    const changes = planMove(distinct, 2, -1);
    expect(changes).toEqual([
      { id: 12, order: 20 },
      { id: 11, order: 10 },
    ]);
    expect(after(distinct, changes)).toEqual([10, 12, 11]);
  });

  it("moves down as well", () => {
    expect(after(distinct, planMove(distinct, 0, 1))).toEqual([11, 10, 12]);
  });

  it("does nothing past either end", () => {
    expect(planMove(distinct, 0, -1)).toEqual([]);
    expect(planMove(distinct, 2, 1)).toEqual([]);
  });

  it("renumbers when the orders are equal (a swap would change nothing)", () => {
    const flat = [
      { id: 1, order: 0 },
      { id: 2, order: 0 },
      { id: 3, order: 0 },
    ];
    const changes = planMove(flat, 2, -1);
    expect(after(flat, changes)).toEqual([1, 3, 2]);
    // Only the items whose order changes are sent to WeCom.
    expect(changes.every((c) => c.order !== 0)).toBe(true);
  });

  it("renumbers when a swap would tie with a third item and sort by id the wrong way", () => {
    // 5 (id 2), 5 (id 3), 3 (id 1): moving id 1 above id 3 by swapping gives it order 5,
    // and id 1 < id 2 would put it first.
    const items = byWeComOrder([
      { id: 2, order: 5 },
      { id: 3, order: 5 },
      { id: 1, order: 3 },
    ]);
    expect(items.map((i) => i.id)).toEqual([2, 3, 1]);
    expect(after(items, planMove(items, 2, -1))).toEqual([2, 1, 3]);
  });

  describe("with items WeCom does not let this app edit", () => {
    // An app may change only the tags it created: the admin's (ids 20, 21) keep their order.
    const items = [
      { id: 20, order: 3 },
      { id: 30, order: 1 },
      { id: 21, order: 0 },
    ];
    const mine = (id: number) => id >= 30;

    it("moves only the item itself when one order puts it in place", () => {
      const up = planMove(items, 1, -1, mine);
      expect(up).toEqual([{ id: 30, order: 4 }]); // 3 would tie with id 20, which sorts first
      expect(after(items, up)).toEqual([30, 20, 21]);
      const down = planMove(items, 1, 1, mine);
      expect(down.map((c) => c.id)).toEqual([30]);
      expect(after(items, down)).toEqual([20, 21, 30]);
    });

    it("is impossible when the item itself is not this app's, or no order fits", () => {
      expect(planMove(items, 0, 1, mine)).toEqual([]);
      // Below order 0 there is no room: id 30 cannot go under id 21 (order 0, smaller id).
      const tight = [
        { id: 21, order: 0 },
        { id: 30, order: 0 },
      ];
      expect(planMove(tight, 0, 1, (id) => id === 21)).toEqual([]);
    });
  });
});
