// Strings of the Staff page: the department tree and the staff table with their customer counts.
const zh = {
  title: "员工",
  intro: "企业微信通讯录中的成员，以及每人正在跟进的客户数。点击左侧部门只看该部门的成员。",
  departments: "部门",
  allStaff: "全部员工",
  noDepartments: "还没有部门：在概览页从企业微信同步后显示",
  departmentMembers: "{{name}} 及其子部门的成员",
  departmentCustomers: "查看该部门员工的客户",
  filter: {
    search: "按姓名搜索",
    searchPlaceholder: "姓名或账号",
    status: "状态",
    all: "全部状态",
    active: "在职",
    inactive: "已离职或未启用",
  },
  column: {
    name: "员工",
    position: "职务",
    departments: "部门",
    status: "状态",
    permission: "客户联系权限",
    customers: "客户数",
  },
  status: {
    active: "在职",
    resignedAt: "{{date}} 离职",
    inactive: "未启用",
    disabled: "已禁用",
    notActivated: "未激活",
  },
  directory: {
    outside: "不在应用可见范围",
    outsideHint: "该成员不在自建应用的可见范围内，企业微信只提供其账号；姓名、职务和部门是之前读取到的（若有）。可在企业微信管理后台扩大应用的可见范围。",
    notRead: "待同步",
    notReadHint: "该成员只在回调事件中出现过，下次同步通讯录时读取其资料",
  },
  permission: {
    yes: "有",
    no: "无",
    noHint: "不在企业微信“客户联系”的使用范围内，不能添加客户",
  },
  customersOf_one: "查看 {{name}} 的 {{count}} 位客户",
  customersOf_other: "查看 {{name}} 的 {{count}} 位客户",
  empty: "还没有员工：在概览页从企业微信同步通讯录",
  emptyFiltered: "没有符合条件的员工",
  emptyDepartment: "该部门及其子部门没有成员",
  unknownDepartment: "部门 {{id}}",
};

const en: typeof zh = {
  title: "Staff",
  intro:
    "Members of the WeCom directory and how many customers each actively follows. Pick a department on the left to see only its members.",
  departments: "Departments",
  allStaff: "All staff",
  noDepartments: "No departments yet: they appear once WeCom is synced (Overview page)",
  departmentMembers: "Members of {{name}} and its sub-departments",
  departmentCustomers: "Customers of this department's staff",
  filter: {
    search: "Search by name",
    searchPlaceholder: "Name or userid",
    status: "Status",
    all: "Any status",
    active: "Active",
    inactive: "Resigned or not activated",
  },
  column: {
    name: "Staff member",
    position: "Position",
    departments: "Departments",
    status: "Status",
    permission: "Customer contact",
    customers: "Customers",
  },
  status: {
    active: "Active",
    resignedAt: "Resigned {{date}}",
    inactive: "Not activated",
    disabled: "Disabled",
    notActivated: "Not activated",
  },
  directory: {
    outside: "Outside the app's visible range",
    outsideHint:
      "This member is outside the visible range of the self-built app: WeCom gives its userid only, and its name, position and departments are what was read before, if anything. Widen the app's visible range in the WeCom admin console.",
    notRead: "Not synced yet",
    notReadHint: "Known from a callback only: the next directory sync reads this member",
  },
  permission: {
    yes: "Allowed",
    no: "Not allowed",
    noHint: "Not in the usage range of WeCom's customer contact: cannot add customers",
  },
  customersOf_one: "See the customer of {{name}}",
  customersOf_other: "See the {{count}} customers of {{name}}",
  empty: "No staff yet: sync the directory from WeCom on the Overview page",
  emptyFiltered: "No staff match these filters",
  emptyDepartment: "Nobody is in this department or the ones under it",
  unknownDepartment: "Department {{id}}",
};

export default { zh, en };
