/// FlowReport renders a workflow and its runs for people: the DAG as DOT, Mermaid and SVG,
/// and the self-contained HTML report of a run (see docs/report.md).
public enum FlowReport {}
