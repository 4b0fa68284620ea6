/// FlowReport renders a workflow and its runs for people: the DAG as DOT, Mermaid and SVG,
/// and the self-contained HTML report of a run (see docs/report.md).
///
/// Everything here is pure rendering over plain values (`GraphModel`, `RunReport`), except
/// `WorkflowStates` and `ReportBuilder`, which read a workspace's journal and artifacts.
public enum FlowReport {}
