/**
 * vnet's browser entry (`import ... from "vnet/browser"`): text in, results out. A topology comes
 * in as YAML text (`Network.fromText`), answers come out as plain data (ping, trace, traceroute,
 * pingAll, show), captures as pcapng or pcap bytes, and frames are read with the dissector.
 * Nothing here or below it touches the file system or any `node:` module (the layers test and
 * the bundling test hold it to that); the Node entry (`src/index.ts`) adds what needs files.
 *
 * This is the public surface: what is exported here is what a user of the package can rely on.
 */

export {
  type AttachmentInfo,
  fmtTime,
  formatTrace,
  TEXT_HOP_LIMIT,
  type TraceFailure,
  type TraceHop,
  type TraceResult,
  type TraceTarget,
  type VmEndpoint,
} from "./analysis/trace.ts";
export {
  formatSeconds,
  formatTimeline,
  type TimelineEvent,
  type TimelineKind,
  type TimelineValue,
} from "./dataplane/timeline.ts";
export type { HopAction, HopKind } from "./dataplane/trace.ts";
export {
  type Diagnostic,
  type DiagnosticCode,
  formatDiagnostic,
  type Severity,
  TopologyError,
} from "./model/diagnostics.ts";
export { DATACENTER_DEFAULTS, type DatacenterOptions, generateDatacenter } from "./model/generate.ts";
export { type LoadResult, loadTopologyText } from "./model/load-text.ts";
export { topologyJsonSchema } from "./model/schema.ts";
export { formatSummary, summarize, type TopologySummary } from "./model/summary.ts";
export type {
  FaultSpec,
  LinkEndSpec,
  LinkSpec,
  NicSpec,
  PortGroupSpec,
  SecurityPolicy,
  ServerSpec,
  StormControlSpec,
  SviSpec,
  SwitchPortSpec,
  SwitchSpec,
  Topology,
  VmNicAttachment,
  VmNicSpec,
  VmSpec,
  VswitchSpec,
} from "./model/types.ts";
export {
  MAX_ECHOES_PER_PROBE,
  MAX_PINGALL_VMS,
  MAX_PROBES,
  Network,
  NetworkError,
  type NetworkOptions,
  PINGALL_WINDOW,
  type PingAllFailure,
  type PingAllOptions,
  type PingAllResult,
  type PingEvent,
  type PingOptions,
  type PingResult,
  type ProbeLoss,
  type ProbeResult,
  QUIET_START_ABOVE_VMS,
  type ReachChange,
  type ReachChangeOptions,
  type ReachChangeResult,
  type ReachClassResult,
  type ReachOptions,
  type ReachResult,
  type RunOptions,
  type RunResult,
  SHOW_WHATS,
  type ShowWhat,
  TRACEROUTE_MAX_HOPS,
  TRACEROUTE_MAX_PROBES,
  type TraceOptions,
  type TracerouteHop,
  type TracerouteOptions,
  type TracerouteProbe,
  type TracerouteResult,
} from "./network.ts";
export {
  CAPTURE_EPOCH,
  CAPTURE_FILE_NAME,
  type CaptureFile,
  type CaptureOptions,
  captureFileStems,
} from "./sim/capture.ts";
export type { Link } from "./sim/link.ts";
export type { World } from "./sim/world.ts";
export { formatIpv4, formatMac } from "./wire/addr.ts";
export { type CaptureFormat, CaptureStream, captureRecords, detectCaptureFormat } from "./wire/capture.ts";
export {
  type DecodeOptions,
  decodeFrame,
  decodePacket,
  describeFrame,
  type Layer,
  LinkType,
  summarizeLayers,
} from "./wire/decode.ts";
export { WireError, type WireErrorCode } from "./wire/error.ts";
export type { CaptureRecord } from "./wire/pcap.ts";
