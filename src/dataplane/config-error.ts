/**
 * The typed error a dataplane device throws when it is built with a configuration it cannot run
 * (an SR-IOV NIC asked for more VFs than it has, a VLAN id out of 1..4094, a port group that
 * does not exist). The topology loader validates user input first and reports it with
 * `file:line:col`; this error is the device's own guard, so a mistake that slips through is
 * still a clear, coded message and never a half-built device.
 */

export type DeviceConfigErrorCode =
  | "bad-vlan" // a VLAN id outside 1..4094
  | "bad-mac" // a MAC that is not a 48-bit unicast address where one is required
  | "bad-port" // a port index or name that does not exist, or a duplicate name
  | "bad-value" // a number out of its documented range
  | "unknown-port-group" // a VM port names a port group that is not on the vswitch
  | "too-many-vfs" // SR-IOV: more virtual functions than the NIC supports
  | "bad-teaming"; // a teaming policy the uplinks cannot have (LACP settings missing, mixed policies)

export class DeviceConfigError extends Error {
  override readonly name = "DeviceConfigError";
  constructor(
    readonly code: DeviceConfigErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Throws `bad-vlan` unless `vid` is a usable VLAN id (IEEE 802.1Q 9.6: 0 and 4095 are reserved). */
export function checkVid(vid: number, what: string): void {
  if (!Number.isInteger(vid) || vid < 1 || vid > 4094) {
    throw new DeviceConfigError("bad-vlan", `${what}: VLAN id must be 1..4094, got ${vid}`);
  }
}

/** Throws `bad-mac` unless `mac` is a unicast 48-bit address (I/G bit clear). */
export function checkUnicastMac(mac: number, what: string): void {
  if (
    !Number.isInteger(mac) ||
    mac <= 0 ||
    mac > 0xffffffffffff ||
    Math.floor(mac / 0x10000000000) % 2 === 1
  ) {
    throw new DeviceConfigError("bad-mac", `${what}: not a unicast MAC address: ${mac}`);
  }
}
