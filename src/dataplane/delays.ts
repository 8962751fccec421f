/**
 * The processing-delay model: how long each kind of device holds a frame before it forwards it.
 * The world delays every frame a device receives by the device's `processingDelayNs` (see
 * `Device` in device.ts); links add their own propagation and serialization delay. Together they
 * make a simulated ping show what the source document says about SR-IOV (section 1.2): traffic
 * that bypasses the hypervisor's software switching loses most of its per-frame cost.
 *
 * The figures are per frame, for a small frame (a ping), and deliberately round: they are an
 * order-of-magnitude model of where time goes, not a benchmark of any one product. Serialization
 * at the link rate (1500 bytes at 10 Gbit/s = 1.2 us) is the link's business, not counted here;
 * a store-and-forward device cannot start sending before the last bit has arrived, and the link
 * already delivers the frame only then.
 *
 * Path costs that follow (one way, excluding links):
 *   VM -> vswitch -> VM on the same server (virtio):  5 us + 4 us           =  9 us
 *   VM -> VF -> NIC's embedded switch -> VF -> VM:     0.5 us + 1 us         =  1.5 us
 *   VM -> vswitch -> pNIC -> switch -> pNIC -> vswitch -> VM (two servers):
 *                                  5 + 0.5 + 1 + 0.5 + 5 + 4               = 16 us
 */

export const PROCESSING_DELAY_NS = {
  /**
   * Software virtual switch in the hypervisor (the Open vSwitch kernel datapath, or a vSphere
   * standard switch) including the virtio back end (vhost): a flow-cache lookup is only a few
   * hundred ns, but each frame is also copied between guest memory and the host, the back-end
   * thread has to be woken by the guest's notification and the guest interrupted on delivery.
   * Measured VM-to-VM latencies through such a path are tens of microseconds round trip; 5 us
   * per frame for the switching and copy part is a conservative middle.
   */
  vswitch: 5_000,
  /**
   * A VM's paravirtual NIC (virtio-net) receiving a frame: the host injects an interrupt into the
   * guest (a VM exit/entry unless posted interrupts apply) and the guest driver takes the frame
   * from the shared ring. Used by the VM device for frames arriving through a vswitch port.
   */
  vnicVirtio: 4_000,
  /**
   * A VM's driver for an SR-IOV virtual function: the NIC writes the frame straight into guest
   * memory by DMA (through the IOMMU) and interrupts the guest directly; no hypervisor on the
   * path (the point of SR-IOV, section 1.2 of the source document).
   */
  vnicVf: 1_000,
  /**
   * Physical NIC: DMA of a frame across PCIe (descriptor fetch and data write, about half a
   * microsecond of PCIe round trips) and the MAC pipeline. The embedded switch (VEB) of an
   * SR-IOV NIC decides in hardware in a few hundred ns within that same budget, so VF-to-VF
   * hairpin costs the same 500 ns.
   */
  pnic: 500,
  /**
   * Physical data-center switch: pipeline latency of a 10G store-and-forward switch (parser,
   * MAC lookup, queueing, egress), about 1 us for a small frame on an idle port.
   */
  switch: 1_000,
} as const;

export type ProcessingDelayRole = keyof typeof PROCESSING_DELAY_NS;
