/**
 * A VPN gateway in a topology: the WireGuard engine (`engine.ts`) made a tunnel port of a router.
 * The router's IP stack has a point-to-point interface (`wg0`) whose output is `send` here:
 * the plaintext packet goes to the engine, which picks the peer by cryptokey routing (the
 * destination against each peer's allowed IPs), encrypts it (or holds it while a handshake
 * runs) and hands back UDP payloads, which leave as the router's own UDP datagrams from its
 * listen port, routed through the underlay like any other. Datagrams to the listen port go to
 * the engine; what it decrypts and authenticates comes back in as a packet received on `wg0`,
 * then routed or delivered as any. Timers are the engine's, armed through the router's world.
 *
 * Trace records (kind `gateway`, the router's name) say what the engine did with each packet
 * and datagram: encrypted for a peer, held for a handshake, decrypted from a peer, refused and
 * why (every refusal is counted under `wg-<reason>` in the router's drops and the engine's own
 * counters). Each record carries `vpn` (the VPN, the peer, what happened) for the verdict.
 * Browser-safe: the crypto backend is passed in.
 */

import type { DeviceEnv } from "../dataplane/device.ts";
import { EngineTimer } from "../dataplane/engine-timer.ts";
import { Frame } from "../dataplane/frame.ts";
import type { IpHost, IpInterface, UdpDatagram } from "../dataplane/ip-host.ts";
import type { HopAction, HopRecord, VpnHop } from "../dataplane/trace.ts";
import { formatIpv4, type Ipv4, tryParseIpv4 } from "../wire/addr.ts";
import { ETHERNET_HEADER_LEN, Ethernet, EtherType } from "../wire/ethernet.ts";
import { AllowedIps } from "./allowed-ips.ts";
import type { WgCrypto } from "./crypto.ts";
import { WgDevice } from "./engine.ts";
import type {
  WgDeviceCounters,
  WgEndpoint,
  WgEvent,
  WgPeerInfo,
  WgReceiveOutcome,
  WgTimerConfig,
} from "./engine-api.ts";

export interface WgGatewayPeer {
  /** The peer gateway's device name (its label in records and counters). */
  name: string;
  publicKey: Uint8Array;
  /** Prefixes as text ("10.2.0.0/16", "10.99.0.2/32"). */
  allowedIps: readonly string[];
  endpoint: { ip: Ipv4; port: number } | null;
  /** Persistent keepalive in seconds (0: none). */
  keepaliveSec: number;
}

export interface WgGatewayConfig {
  /** The VPN's name. */
  vpn: string;
  /** The router's name. */
  device: string;
  privateKey: Uint8Array;
  listenPort: number;
  mtu: number;
  peers: readonly WgGatewayPeer[];
  crypto: WgCrypto;
  /** Overrides of the whitepaper's timers (tests shorten them). */
  timers?: Partial<WgTimerConfig>;
}

/** What `vnet show FILE vpn` prints of one gateway, as `wg show` does. */
export interface WgGatewayStatus {
  vpn: string;
  device: string;
  iface: string;
  listenPort: number;
  counters: WgDeviceCounters;
}

const RECEIVE_TEXT: Partial<Record<WgReceiveOutcome, string>> = {
  "handshake-initiation":
    "handshake initiation from % accepted: session established (responder), response sent",
  "handshake-response": "handshake response from % accepted: session established (initiator)",
  "cookie-reply": "cookie reply from % accepted: the next initiation carries it",
  keepalive: "keepalive from % (authenticated, empty)",
  "cookie-sent": "handshake from % while under load: answered with a cookie reply, not processed",
};

export class WgGateway {
  readonly engine: WgDevice;
  private stackOrNull: IpHost | null = null;
  private ifaceOrNull: IpInterface | null = null;
  private readonly timer = new EngineTimer((t) => this.tick(t));
  private readonly table = new AllowedIps<WgPeerInfo>();
  private readonly peerNames = new Map<string, string>();
  /** The world time of the call in progress (the engine's callbacks carry none). */
  private nowNs = 0;
  /** The frame whose handling caused the engine's callbacks (0: a timer). */
  private causeFrameId = 0;
  /** While `send` asks the engine: datagrams held (bytes, endpoint, ...) until its record is made. */
  private isHoldingDatagrams = false;
  private readonly held: (Uint8Array | WgEndpoint)[] = [];

  constructor(readonly config: WgGatewayConfig) {
    this.engine = new WgDevice({
      privateKey: config.privateKey,
      crypto: config.crypto,
      randomBytes: (out) => {
        const env = this.env;
        for (let i = 0; i < out.length; i++) out[i] = Math.floor(env.random() * 256);
      },
      sendDatagram: (bytes, to) => this.sendDatagram(bytes, to),
      deliverPacket: (ip, peer) => this.deliverPacket(ip, peer),
      onEvent: (e) => this.onEvent(e),
      timers: config.timers,
      mtu: config.mtu,
      allowedIps: this.table,
    });
    this.addPeers();
  }

  private addPeers(): void {
    const config = this.config;
    for (const p of config.peers) {
      const info = this.engine.addPeer({
        publicKey: p.publicKey,
        allowedIps: p.allowedIps,
        endpoint:
          p.endpoint === null ? undefined : { address: formatIpv4(p.endpoint.ip), port: p.endpoint.port },
        persistentKeepaliveSec: p.keepaliveSec,
        name: p.name,
      });
      this.peerNames.set(info.name, p.name);
    }
  }

  private get stack(): IpHost {
    if (this.stackOrNull === null) throw new Error(`${this.config.device}: VPN gateway used before attach()`);
    return this.stackOrNull;
  }

  private get iface(): IpInterface {
    if (this.ifaceOrNull === null) throw new Error(`${this.config.device}: VPN gateway used before attach()`);
    return this.ifaceOrNull;
  }

  private get env(): DeviceEnv {
    return this.stack.env;
  }

  /** Joins the router: its stack (bound to the world) and the tunnel interface it made for us. */
  attach(stack: IpHost, iface: IpInterface): void {
    this.stackOrNull = stack;
    this.ifaceOrNull = iface;
    stack.bindUdp(this.config.listenPort, (d) => this.receive(d));
  }

  /** Arms the engine's timers (a peer with a persistent keepalive and an endpoint is contacted at once). */
  start(nowNs: number): void {
    this.nowNs = nowNs;
    this.rearm(nowNs);
  }

  /**
   * The router lost power: every session and handshake is forgotten (the peers are configured
   * afresh from the configuration), so the next `start` handshakes as at boot.
   */
  powerOff(): void {
    this.timer.forget();
    for (const info of [...this.engine.peers()]) this.engine.removePeer(info);
    this.peerNames.clear();
    this.addPeers();
  }

  /** The tunnel interface's output: a routed packet (Ethernet header in front) to encrypt. */
  send(frame: Frame, nowNs: number): void {
    this.nowNs = nowNs;
    this.causeFrameId = frame.id;
    const ip = frame.buf.subarray(frame.start + ETHERNET_HEADER_LEN, frame.end);
    // What the engine sends while encrypting leaves after the record that says why.
    this.isHoldingDatagrams = true;
    let outcome: ReturnType<WgDevice["sendPacket"]>;
    try {
      outcome = this.engine.sendPacket(ip, nowNs);
    } finally {
      this.isHoldingDatagrams = false;
    }
    const isDelivered = outcome === "sent" || outcome === "queued";
    if (!isDelivered || this.env.isTracing) {
      // The engine routed by the same table: look the peer up again only to say who it was.
      const dst = ip.length >= 20 ? ((ip[16] << 24) | (ip[17] << 16) | (ip[18] << 8) | ip[19]) >>> 0 : 0;
      this.explainSend(frame.id, outcome, dst, nowNs);
    }
    this.flushHeld();
    this.rearm(nowNs);
  }

  /** The record (or drop) of a packet the tunnel interface handed the engine. */
  private explainSend(
    frameId: number,
    outcome: ReturnType<WgDevice["sendPacket"]>,
    dst: number,
    nowNs: number,
  ): void {
    const peer = this.table.lookupIpv4(dst);
    const peerName = peer === undefined ? null : (this.peerNames.get(peer.name) ?? peer.name);
    if (outcome === "sent" || outcome === "queued") {
      const to = peer?.endpoint === undefined ? "" : ` to ${peer.endpoint.address}:${peer.endpoint.port}`;
      const reason =
        outcome === "sent"
          ? `encrypted for ${peerName} (VPN ${this.config.vpn}): WireGuard transport data${to}`
          : `held for ${peerName} (VPN ${this.config.vpn}): no session yet, a handshake comes first`;
      this.record(frameId, "send", reason, nowNs, {
        vpn: this.config.vpn,
        peer: peerName ?? "",
        event: outcome === "sent" ? "encrypt" : "queue",
      });
    } else {
      const why =
        outcome === "no-peer-for-destination"
          ? `no peer of VPN ${this.config.vpn} has ${formatIpv4(dst)} in its allowed IPs`
          : outcome === "no-endpoint"
            ? `${peerName} has no endpoint yet (it has not been heard from)`
            : outcome;
      this.drop(frameId, outcome, `dropped: ${why}`, nowNs, peerName);
    }
  }

  private receive(d: UdpDatagram): void {
    const nowNs = d.nowNs;
    this.nowNs = nowNs;
    this.causeFrameId = d.frameId ?? 0;
    const from: WgEndpoint = { address: formatIpv4(d.src), port: d.srcPort };
    // A response the engine sends leaves after the record of what it answered.
    this.isHoldingDatagrams = true;
    let outcome: WgReceiveOutcome;
    try {
      outcome = this.engine.receiveDatagram(d.payload, from, nowNs);
    } finally {
      this.isHoldingDatagrams = false;
    }
    if (outcome !== "data") {
      const text = RECEIVE_TEXT[outcome];
      if (text === undefined) {
        const peer = this.peerAt(from);
        this.drop(
          this.causeFrameId,
          outcome,
          `dropped: WireGuard from ${from.address}:${from.port}${peer === "" ? "" : ` (${peer})`}: ${outcome}`,
          nowNs,
          peer,
        );
      } else if (this.env.isTracing) {
        const peer = this.peerAt(from);
        const who = peer === "" ? `${from.address}:${from.port}` : `${peer} (${from.address}:${from.port})`;
        this.record(this.causeFrameId, "receive", `WireGuard ${text.replace("%", who)}`, nowNs, {
          vpn: this.config.vpn,
          peer,
          event: outcome === "keepalive" ? "keepalive" : "handshake",
        });
      }
    }
    this.flushHeld();
    this.rearm(nowNs);
  }

  private flushHeld(): void {
    const held = this.held;
    for (let i = 0; i < held.length; i += 2)
      this.sendDatagram(held[i] as Uint8Array, held[i + 1] as WgEndpoint);
    held.length = 0;
  }

  private sendDatagram(bytes: Uint8Array, to: WgEndpoint): void {
    if (this.isHoldingDatagrams) {
      this.held.push(bytes, to);
      return;
    }
    const dst = tryParseIpv4(to.address);
    if (dst === undefined) {
      this.drop(
        this.causeFrameId,
        "not-ipv4-endpoint",
        `dropped: endpoint ${to.address} is not IPv4`,
        this.nowNs,
        null,
      );
      return;
    }
    this.stack.sendUdp(dst, this.config.listenPort, to.port, bytes, this.nowNs);
  }

  /** A decrypted, authenticated packet: received on the tunnel interface as a new frame. */
  private deliverPacket(ip: Uint8Array, peer: WgPeerInfo): void {
    const f = Frame.alloc(ETHERNET_HEADER_LEN + ip.length);
    const iface = this.iface;
    Ethernet.setDst(f.buf, f.start, iface.mac);
    Ethernet.setSrc(f.buf, f.start, 0);
    Ethernet.setEtherType(f.buf, f.start, EtherType.IPv4);
    f.buf.set(ip, f.start + ETHERNET_HEADER_LEN);
    const name = this.peerNames.get(peer.name) ?? peer.name;
    const env = this.env;
    if (env.isTracing) {
      const record: HopRecord = {
        timeNs: this.nowNs,
        frameId: f.id,
        device: this.config.device,
        kind: "gateway",
        in: iface.name,
        out: null,
        vlan: null,
        action: "receive",
        reason: `decrypted from ${name} (VPN ${this.config.vpn}): authenticated, source allowed`,
        vpn: { vpn: this.config.vpn, peer: name, event: "decrypt" },
      };
      // With the frame: it never crosses a link before it is routed, so label it here.
      if (env.traceFrame !== undefined) env.traceFrame(record, f);
      else env.trace(record);
    }
    this.stack.receive(iface, f, this.nowNs);
  }

  private tick(nowNs: number): void {
    this.nowNs = nowNs;
    this.causeFrameId = 0;
    this.engine.tick(nowNs);
    this.rearm(nowNs);
  }

  private rearm(nowNs: number): void {
    this.timer.arm(this.env, this.engine.nextTimerNs() ?? Number.POSITIVE_INFINITY, nowNs);
  }

  private onEvent(e: WgEvent): void {
    const env = this.env;
    if (e.type === "handshake-complete" || e.type === "handshake-gave-up" || e.type === "endpoint-changed") {
      const peer = this.peerNames.get(e.peer) ?? e.peer;
      const text =
        e.type === "handshake-complete"
          ? `VPN ${this.config.vpn}: handshake with ${peer} complete (${e.role})`
          : e.type === "handshake-gave-up"
            ? `VPN ${this.config.vpn}: gave up the handshake with ${peer}, ${e.droppedPackets} packets dropped`
            : `VPN ${this.config.vpn}: ${peer} now at ${e.endpoint.address}:${e.endpoint.port}`;
      env.event?.({
        timeNs: e.nowNs,
        device: this.config.device,
        kind: "vpn",
        text: `${this.config.device}: ${text}`,
        fields: { vpn: this.config.vpn, peer, event: e.type },
      });
    }
    if (!env.isTracing) return;
    if (e.type === "handshake-initiation-sent") {
      const peer = this.peerNames.get(e.peer) ?? e.peer;
      this.record(
        this.causeFrameId,
        "send",
        `VPN ${this.config.vpn}: handshake initiation to ${peer} (attempt ${e.attempt})`,
        e.nowNs,
        { vpn: this.config.vpn, peer, event: "handshake" },
      );
    }
  }

  private peerAt(from: WgEndpoint): string {
    for (const p of this.engine.peers())
      if (p.endpoint !== undefined && p.endpoint.address === from.address && p.endpoint.port === from.port)
        return this.peerNames.get(p.name) ?? p.name;
    return "";
  }

  private drop(frameId: number, reason: string, text: string, nowNs: number, peer: string | null): void {
    const code = `wg-${reason}`;
    this.stack.drops.add(code);
    if (this.env.isTracing)
      this.env.trace({
        timeNs: nowNs,
        frameId,
        device: this.config.device,
        kind: "gateway",
        in: this.iface.name,
        out: null,
        vlan: null,
        action: "drop",
        reason: text,
        code,
        vpn: { vpn: this.config.vpn, peer: peer ?? "", event: "drop" },
      });
  }

  private record(
    frameId: number,
    action: HopAction,
    reason: string,
    nowNs: number,
    vpn: VpnHop,
    inName: string | null = null,
  ): void {
    const isOut = action === "send";
    this.env.trace({
      timeNs: nowNs,
      frameId,
      device: this.config.device,
      kind: "gateway",
      in: isOut ? null : (inName ?? this.iface.name),
      out: isOut ? this.iface.name : null,
      vlan: null,
      action,
      reason,
      vpn,
    });
  }

  /** `wg show`'s facts for this gateway. */
  status(): WgGatewayStatus {
    return {
      vpn: this.config.vpn,
      device: this.config.device,
      iface: this.iface.name,
      listenPort: this.config.listenPort,
      counters: this.engine.counters(),
    };
  }
}
