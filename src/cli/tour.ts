/**
 * `vnet tour`: a short, printed orientation of what vnet does and which commands to try.
 */

import type { Command } from "commander";
import type { Io } from "./io.ts";

const TOUR = `vnet: virtual machines, virtual switches, SR-IOV, VLANs, VXLAN and VPN, packet by packet.

  vnet decode FILE.pcap        every layer of every frame, including frames inside VXLAN
  vnet --help                  all commands
`;

export function register(program: Command, io: Io): void {
  program
    .command("tour")
    .description("a short tour of what vnet can do")
    .action(() => {
      io.out(TOUR);
    });
}
