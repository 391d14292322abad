// Reordering: WeCom shows groups and tags by `order`, larger first (ties by id, as the API lists them).
// Moving one item up or down becomes the fewest `order` changes that put it there.

export interface Ordered {
  id: number;
  order: number;
}

/** The API's order: larger `order` first, then smaller id. */
export function byWeComOrder<T extends Ordered>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => b.order - a.order || a.id - b.id);
}

/**
 * The `{id, order}` changes that move `items[index]` one place up (`-1`) or down (`+1`) in a list
 * shown in WeCom's order. Swapping the two neighbours' orders is enough when that sorts right;
 * otherwise (equal orders, ties with a third item) the list is renumbered and only the items whose
 * order changes are returned. Nothing to do (first item up, last down) is an empty list.
 *
 * Items `canChange` refuses (tags WeCom does not let this app edit) keep their order: then only the
 * moved item's order changes, when one value puts it in place; otherwise the move is impossible
 * (an empty list).
 */
export function planMove(
  items: readonly Ordered[],
  index: number,
  delta: -1 | 1,
  canChange: (id: number) => boolean = () => true,
): Ordered[] {
  const target = index + delta;
  if (index < 0 || index >= items.length || target < 0 || target >= items.length) return [];
  const changes = plan(items, index, target);
  if (changes.every((change) => canChange(change.id))) return changes;
  if (!canChange(items[index].id)) return [];
  const wanted = [...items];
  [wanted[index], wanted[target]] = [wanted[target], wanted[index]];
  const other = items[target].order;
  for (const order of [other, other - delta]) {
    const moved = items.map((item, i) => (i === index ? { ...item, order } : item));
    if (order >= 0 && sameIds(byWeComOrder(moved), wanted)) return [{ id: items[index].id, order }];
  }
  return [];
}

function plan(items: readonly Ordered[], index: number, target: number): Ordered[] {
  const wanted = [...items];
  [wanted[index], wanted[target]] = [wanted[target], wanted[index]];
  const moved = items[index];
  const other = items[target];

  if (moved.order !== other.order) {
    const swapped = items.map((item) =>
      item.id === moved.id ? { ...item, order: other.order } : item.id === other.id ? { ...item, order: moved.order } : item,
    );
    if (sameIds(byWeComOrder(swapped), wanted)) {
      return [
        { id: moved.id, order: other.order },
        { id: other.id, order: moved.order },
      ];
    }
  }
  // Renumber from the bottom (…, 2, 1, 0): a corp's groups and a group's tags are few.
  const n = wanted.length;
  const changes: Ordered[] = [];
  wanted.forEach((item, i) => {
    const order = n - 1 - i;
    if (item.order !== order) changes.push({ id: item.id, order });
  });
  return changes;
}

function sameIds(a: readonly Ordered[], b: readonly Ordered[]): boolean {
  return a.length === b.length && a.every((item, i) => item.id === b[i].id);
}
