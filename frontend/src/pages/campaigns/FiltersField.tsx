// The customers list's filter bar as a form control (the audience's filters): loaded after the
// wizard's first screen (its date and department pickers are large).
import FilterBar from "../customers/FilterBar";
import { type CustomerFilters, EMPTY_FILTERS } from "../customers/filters";

export default function FiltersField({ value, onChange }: { value?: CustomerFilters; onChange?: (filters: CustomerFilters) => void }) {
  const current = value ?? EMPTY_FILTERS;
  return <FilterBar filters={current} onChange={(patch) => onChange?.({ ...current, ...patch })} />;
}
