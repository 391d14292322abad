export const GREEN = "#52c41a";
export const RED = "#ff4d4f";
