/**
 * What each VPN gateway of a topology is configured with, derived once from `vpns:` for every
 * world and for `vnet vpn export`: its keys (given, or derived from the run's seed), its peers
 * with their allowed IPs (WireGuard's cryptokey routing), endpoints and keepalive, and the routes
 * that send the other sites' networks into its tunnel interface (as wg-quick adds them).
 *
 * Full mesh: every gateway peers with every other, allowed IPs = the peer's tunnel address and
 * its networks. Hub and spoke: a spoke peers only with the hub, whose allowed IPs on the spoke
 * are every other gateway's tunnel address and networks (the hub forwards between spokes); the
 * hub peers with every spoke.
 */

import { derivePrivateKey, publicKeyOf } from "../vpn/keys.ts";
import { formatIpv4, type Ipv4, sameSubnet } from "../wire/addr.ts";
import type { Topology, VpnPeerSpec, VpnSpec } from "./types.ts";

export interface Prefix {
  prefix: Ipv4;
  prefixLen: number;
}

export interface GatewayPeerPlan {
  /** The peer gateway's device name. */
  name: string;
  publicKey: Uint8Array;
  allowedIps: Prefix[];
  endpoint: { ip: Ipv4; port: number } | null;
  /** This gateway's persistent keepalive towards the peer (0: none). */
  keepaliveSec: number;
}

export interface GatewayPlan {
  vpn: string;
  device: string;
  iface: string;
  ip: Ipv4;
  prefixLen: number;
  mtu: number;
  listenPort: number;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** Whether the private key was derived from the seed (not given in the file). */
  isKeyDerived: boolean;
  peers: GatewayPeerPlan[];
  /** The other sites' networks, each through the tunnel address of the peer that has them. */
  routes: { prefix: Ipv4; prefixLen: number; via: Ipv4 }[];
}

export function prefixText(p: Prefix): string {
  return `${formatIpv4(p.prefix)}/${p.prefixLen}`;
}

function privateKeyOf(v: VpnSpec, p: VpnPeerSpec, seed: number): Uint8Array {
  return p.privateKey ?? derivePrivateKey(seed, v.name, p.device);
}

/** The key the others expect of `p`: as given, else the public key of its private key. */
function expectedPublicKey(v: VpnSpec, p: VpnPeerSpec, seed: number): Uint8Array {
  return p.publicKey ?? publicKeyOf(privateKeyOf(v, p, seed));
}

/** Every gateway of every VPN, in file order. */
export function planVpnGateways(topology: Topology, seed: number): GatewayPlan[] {
  const out: GatewayPlan[] = [];
  for (const v of topology.vpns ?? []) {
    for (const me of v.peers) {
      const isSpoke = v.hub !== null && v.hub !== me.device;
      const others = isSpoke ? v.peers.filter((p) => p.device === v.hub) : v.peers.filter((p) => p !== me);
      const own = (p: VpnPeerSpec): Prefix[] => [{ prefix: p.ip, prefixLen: 32 }, ...p.networks];
      const peers: GatewayPeerPlan[] = others.map((o) => ({
        name: o.device,
        publicKey: expectedPublicKey(v, o, seed),
        // A spoke reaches every other gateway and site through the hub.
        allowedIps: isSpoke ? v.peers.filter((p) => p !== me).flatMap(own) : own(o),
        endpoint: o.endpoint,
        keepaliveSec: me.keepaliveSec,
      }));
      const routes = peers.flatMap((p) => {
        const via = v.peers.find((x) => x.device === p.name)!.ip;
        return p.allowedIps
          .filter((a) => a.prefixLen < 32 || !sameSubnet(a.prefix, me.ip, me.prefixLen))
          .map((a) => ({ prefix: a.prefix, prefixLen: a.prefixLen, via }));
      });
      const privateKey = privateKeyOf(v, me, seed);
      out.push({
        vpn: v.name,
        device: me.device,
        iface: me.iface,
        ip: me.ip,
        prefixLen: me.prefixLen,
        mtu: v.mtu,
        listenPort: me.listenPort,
        privateKey,
        publicKey: publicKeyOf(privateKey),
        isKeyDerived: me.privateKey === null,
        peers,
        routes,
      });
    }
  }
  return out;
}
