/** A customer's page: the Customers list opens its detail drawer from the `contact` parameter. */
export function customerLink(id: number | string): string {
  return `/customers?contact=${id}`;
}
