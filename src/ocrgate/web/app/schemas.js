// Example KIE result schemas to start from: the two in the spec (§6.1 train ticket,
// §2.1 invoice), the SROIE receipt fields of the dev set, and one list template (§6.1:
// "a list value means template for each list element").
export const EXAMPLE_SCHEMAS = [
  {
    name: "Train ticket (spec §6.1)",
    schema: {
      "乘车日期": "对应图中乘车日期时间，格式为年-月-日，比如2025-03-05",
      "发票代码": "提取图中的发票代码，通常为一组数字或字母组合",
      "发票号码": "提取发票上的号码，通常由纯数字组成。",
    },
  },
  { name: "Invoice (spec §2.1)", schema: { "发票号码": "", "开票日期": "YYYY-MM-DD" } },
  { name: "Receipt (SROIE fields)", schema: { company: "", date: "", address: "", total: "" } },
  {
    name: "Receipt with items (list template)",
    schema: { company: "", date: "", items: [{ name: "", quantity: "", price: "" }], total: "" },
  },
];
