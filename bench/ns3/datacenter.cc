// The data center of `bench/ns3.bench.ts`, in ns-3 (Debian's libns3-dev 3.37): the peer vnet is
// measured against. Compiled on demand by the bench (g++ -O2 against the system ns-3, cached in
// tmp/ns3-build/ by source hash); or by hand:
//
//   g++ -O2 -std=c++17 -I/usr/include bench/ns3/datacenter.cc -o tmp/dc \
//     -lns3-core -lns3-network -lns3-internet -lns3-csma -lns3-bridge
//   tmp/dc --hosts=2000 --perRack=40 --flows=200 --datagrams=1000 [--repeat=3] [--pairs=FILE]
//
// Shape: `hosts` hosts, `perRack` per rack; each host on its own CSMA link (two devices on the
// channel: a cable, though half duplex as ns-3's CSMA is; 25 Gb/s, 1 us) to its rack's ToR;
// every ToR on a CSMA link (100 Gb/s, 2 us) to one core. ToRs and the core are learning
// bridges (BridgeNetDevice over their CSMA ports). One layer-2 domain: every host in
// 10.1.0.0/16 (IPv4 only; no IPv6, which would flood neighbour discovery). ARP is not prefilled:
// hosts resolve each other as vnet's VMs do.
//
// Traffic, as bench/ns3-vnet.ts does it in vnet: `flows` pairs (from --pairs FILE, one "src dst"
// host index pair per line, or drawn with a seeded std::mt19937_64), each a UDP socket sending
// `payload`-byte datagrams to port 9 every `intervalUs`, the flows' starts spread evenly over
// one interval (flow i at i * intervalUs / flows). Phase 1 (warm-up): one datagram per flow,
// which costs an ARP request flooded to every host. Phase 2 (steady): `datagrams` per flow,
// `repeat` times (the run with the median wall-time rate is reported), or with --serve=1 once
// per "run" line on standard input, each answered by a JSON line (after a "ready" line once the
// warm-up is done), so that the bench can alternate ns-3's and vnet's steady phases. Each phase
// runs until its last send plus 10 ms of simulated time.
//
// A frame-hop is a frame delivered to a device over a link: counted on every CsmaNetDevice's
// PhyRxEnd trace (fired for every frame the channel delivers, except to its sender). ns-3's CSMA
// channel is half duplex (3.37 has no full-duplex mode, and a BridgeNetDevice takes only ports
// that support SendFrom, which point-to-point devices do not): a device that finds the channel
// busy backs off. Backoffs and device drops (queue full, PhyTx/PhyRx drops) are counted and
// printed, so a run that lost frames to half-duplex contention shows it.
//
// Prints one JSON line at the end: {hosts, racks, nodes, buildSeconds, warmup{...}, frameHops, wallSeconds,
// cpuSeconds, simSeconds, delivered, sent, rssMiB, peakRssMiB, runs[]}; the top-level
// frameHops, times and delivered are the median steady run's; `sent` is per run.

#include "ns3/bridge-module.h"
#include "ns3/core-module.h"
#include "ns3/csma-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace ns3;

namespace
{

uint64_t g_frameHops = 0;
uint64_t g_delivered = 0;
uint64_t g_drops = 0;
uint64_t g_backoffs = 0;

void
OnDrop(Ptr<const Packet>)
{
    ++g_drops;
}

void
OnBackoff(Ptr<const Packet>)
{
    ++g_backoffs;
}

void
OnPhyRxEnd(Ptr<const Packet>)
{
    ++g_frameHops;
}

void
OnSinkRecv(Ptr<Socket> socket)
{
    while (Ptr<Packet> p = socket->Recv())
    {
        ++g_delivered;
    }
}

struct Flow
{
    Ptr<Socket> socket;
    uint32_t payload;
    Time interval;
    uint32_t left;
};

void
SendOne(Flow* f)
{
    f->socket->Send(Create<Packet>(f->payload));
    if (--f->left > 0)
    {
        Simulator::Schedule(f->interval, &SendOne, f);
    }
}

double
WallSeconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

/** VmRSS or VmHWM of this process, in MiB. */
long
StatusMiB(const char* key)
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
    {
        if (line.rfind(key, 0) == 0)
        {
            return std::stol(line.substr(std::string(key).size())) / 1024;
        }
    }
    return -1;
}

struct PhaseResult
{
    uint64_t hops;
    uint64_t delivered;
    double wallS;
    double cpuS;
    double simS;
};

PhaseResult
RunPhase(std::vector<Flow>& flows, uint32_t count, Time interval)
{
    uint64_t hops0 = g_frameHops;
    uint64_t delivered0 = g_delivered;
    Time sim0 = Simulator::Now();
    // Flows start spread evenly over one interval, so that their frames do not all meet on the
    // same half-duplex channels at once (synchronized flows made a backoff of nearly every hop).
    int64_t spacingNs = interval.GetNanoSeconds() / int64_t(flows.size());
    for (size_t i = 0; i < flows.size(); i++)
    {
        flows[i].left = count;
        Simulator::Schedule(NanoSeconds(int64_t(i) * spacingNs), &SendOne, &flows[i]);
    }
    Time duration = interval * count + MilliSeconds(10);
    Simulator::Stop(duration);
    auto w0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    Simulator::Run();
    std::clock_t c1 = std::clock();
    auto w1 = std::chrono::steady_clock::now();
    return {g_frameHops - hops0,
            g_delivered - delivered0,
            WallSeconds(w0, w1),
            double(c1 - c0) / CLOCKS_PER_SEC,
            (Simulator::Now() - sim0).GetSeconds()};
}

} // namespace

int
main(int argc, char* argv[])
{
    auto t0 = std::chrono::steady_clock::now();
    uint32_t hosts = 2000;
    uint32_t perRack = 40;
    uint32_t flowCount = 200;
    uint32_t datagrams = 2500;
    uint32_t payload = 100;
    uint32_t intervalUs = 100;
    uint32_t seed = 1;
    uint32_t repeat = 1;
    bool serve = false;
    std::string pairsFile;
    std::string scheduler = "ns3::MapScheduler";

    CommandLine cmd(__FILE__);
    cmd.AddValue("hosts", "hosts in the data center", hosts);
    cmd.AddValue("perRack", "hosts per rack (per ToR)", perRack);
    cmd.AddValue("flows", "UDP flows between random host pairs", flowCount);
    cmd.AddValue("datagrams", "datagrams per flow in the steady phase", datagrams);
    cmd.AddValue("payload", "UDP payload bytes", payload);
    cmd.AddValue("intervalUs", "microseconds between a flow's datagrams", intervalUs);
    cmd.AddValue("repeat", "steady phases to run (the median by wall time is reported)", repeat);
    cmd.AddValue("serve",
                 "after the warm-up, print a ready line and run one steady phase per 'run' line "
                 "read from standard input (the bench alternates ns-3 and vnet this way)",
                 serve);
    cmd.AddValue("seed", "seed of the pairs when no --pairs file is given", seed);
    cmd.AddValue("pairs", "file of 'src dst' host indexes, one flow a line", pairsFile);
    cmd.AddValue("scheduler", "ns-3 scheduler TypeId (MapScheduler is ns-3's default)", scheduler);
    cmd.Parse(argc, argv);
    if (hosts < 2 || perRack < 1 || hosts > 65000)
    {
        std::fprintf(stderr, "datacenter: need 2 <= hosts <= 65000 and perRack >= 1\n");
        return 2;
    }

    ObjectFactory sf;
    sf.SetTypeId(scheduler);
    Simulator::SetScheduler(sf);

    uint32_t racks = (hosts + perRack - 1) / perRack;
    NodeContainer hostNodes;
    hostNodes.Create(hosts);
    NodeContainer torNodes;
    torNodes.Create(racks);
    NodeContainer coreNode;
    coreNode.Create(1);

    CsmaHelper edge;
    edge.SetChannelAttribute("DataRate", StringValue("25Gbps"));
    edge.SetChannelAttribute("Delay", TimeValue(MicroSeconds(1)));
    CsmaHelper up;
    up.SetChannelAttribute("DataRate", StringValue("100Gbps"));
    up.SetChannelAttribute("Delay", TimeValue(MicroSeconds(2)));

    NetDeviceContainer hostDevs;
    std::vector<NetDeviceContainer> torPorts(racks);
    NetDeviceContainer corePorts;
    NetDeviceContainer allCsma;
    for (uint32_t i = 0; i < hosts; i++)
    {
        uint32_t r = i / perRack;
        NetDeviceContainer d = edge.Install(NodeContainer(hostNodes.Get(i), torNodes.Get(r)));
        hostDevs.Add(d.Get(0));
        torPorts[r].Add(d.Get(1));
        allCsma.Add(d);
    }
    for (uint32_t r = 0; r < racks; r++)
    {
        NetDeviceContainer d = up.Install(NodeContainer(torNodes.Get(r), coreNode.Get(0)));
        torPorts[r].Add(d.Get(0));
        corePorts.Add(d.Get(1));
        allCsma.Add(d);
    }
    BridgeHelper bridge;
    for (uint32_t r = 0; r < racks; r++)
    {
        bridge.Install(torNodes.Get(r), torPorts[r]);
    }
    bridge.Install(coreNode.Get(0), corePorts);

    InternetStackHelper stack;
    stack.SetIpv6StackInstall(false);
    stack.Install(hostNodes);
    Ipv4AddressHelper addresses;
    addresses.SetBase("10.1.0.0", "255.255.0.0", "0.0.0.2");
    Ipv4InterfaceContainer ifaces = addresses.Assign(hostDevs);

    for (uint32_t i = 0; i < allCsma.GetN(); i++)
    {
        Ptr<NetDevice> d = allCsma.Get(i);
        d->TraceConnectWithoutContext("PhyRxEnd", MakeCallback(&OnPhyRxEnd));
        d->TraceConnectWithoutContext("MacTxDrop", MakeCallback(&OnDrop));
        d->TraceConnectWithoutContext("PhyTxDrop", MakeCallback(&OnDrop));
        d->TraceConnectWithoutContext("PhyRxDrop", MakeCallback(&OnDrop));
        d->TraceConnectWithoutContext("MacTxBackoff", MakeCallback(&OnBackoff));
    }

    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    if (!pairsFile.empty())
    {
        std::ifstream in(pairsFile);
        uint32_t a;
        uint32_t b;
        while (in >> a >> b)
        {
            if (a >= hosts || b >= hosts || a == b)
            {
                std::fprintf(stderr, "datacenter: bad pair %u %u in %s\n", a, b, pairsFile.c_str());
                return 2;
            }
            pairs.emplace_back(a, b);
        }
        if (pairs.empty())
        {
            std::fprintf(stderr, "datacenter: no pairs in %s\n", pairsFile.c_str());
            return 2;
        }
    }
    else
    {
        std::mt19937_64 rng(seed);
        for (uint32_t i = 0; i < flowCount; i++)
        {
            uint32_t a = rng() % hosts;
            uint32_t b = rng() % (hosts - 1);
            if (b >= a)
            {
                b++;
            }
            pairs.emplace_back(a, b);
        }
    }

    TypeId udp = UdpSocketFactory::GetTypeId();
    std::vector<bool> sink(hosts, false);
    std::vector<Flow> flows;
    flows.reserve(pairs.size());
    Time interval = MicroSeconds(intervalUs);
    for (size_t i = 0; i < pairs.size(); i++)
    {
        auto [a, b] = pairs[i];
        if (!sink[b])
        {
            sink[b] = true;
            Ptr<Socket> s = Socket::CreateSocket(hostNodes.Get(b), udp);
            s->Bind(InetSocketAddress(Ipv4Address::GetAny(), 9));
            s->SetRecvCallback(MakeCallback(&OnSinkRecv));
        }
        Ptr<Socket> s = Socket::CreateSocket(hostNodes.Get(a), udp);
        s->Bind(InetSocketAddress(Ipv4Address::GetAny(), 10000 + (i % 50000)));
        s->Connect(InetSocketAddress(ifaces.GetAddress(b), 9));
        flows.push_back({s, payload, interval, 0});
    }
    auto t1 = std::chrono::steady_clock::now();
    long buildRss = StatusMiB("VmRSS:");

    PhaseResult warm = RunPhase(flows, 1, interval);
    std::vector<PhaseResult> runs;
    if (serve)
    {
        std::printf("{\"event\":\"ready\",\"buildSeconds\":%.3f,\"warmup\":{\"frameHops\":%llu,"
                    "\"wallSeconds\":%.3f,\"cpuSeconds\":%.3f,\"delivered\":%llu}}\n",
                    WallSeconds(t0, t1),
                    (unsigned long long)warm.hops,
                    warm.wallS,
                    warm.cpuS,
                    (unsigned long long)warm.delivered);
        std::fflush(stdout);
        std::string line;
        while (std::getline(std::cin, line) && line == "run")
        {
            PhaseResult r = RunPhase(flows, datagrams, interval);
            runs.push_back(r);
            std::printf("{\"event\":\"run\",\"frameHops\":%llu,\"wallSeconds\":%.3f,"
                        "\"cpuSeconds\":%.3f,\"delivered\":%llu}\n",
                        (unsigned long long)r.hops,
                        r.wallS,
                        r.cpuS,
                        (unsigned long long)r.delivered);
            std::fflush(stdout);
        }
    }
    else
    {
        for (uint32_t r = 0; r < std::max(repeat, 1u); r++)
        {
            runs.push_back(RunPhase(flows, datagrams, interval));
        }
    }
    if (runs.empty())
    {
        runs.push_back(PhaseResult{0, 0, 0, 0, 0});
    }
    std::vector<PhaseResult> byRate = runs;
    std::sort(byRate.begin(), byRate.end(), [](const PhaseResult& a, const PhaseResult& b) {
        return a.hops / a.wallS < b.hops / b.wallS;
    });
    PhaseResult steady = byRate[byRate.size() / 2];
    std::string runList;
    for (const PhaseResult& r : runs)
    {
        char one[160];
        std::snprintf(one,
                      sizeof one,
                      "%s{\"frameHops\":%llu,\"wallSeconds\":%.3f,\"cpuSeconds\":%.3f}",
                      runList.empty() ? "" : ",",
                      (unsigned long long)r.hops,
                      r.wallS,
                      r.cpuS);
        runList += one;
    }
    long rss = StatusMiB("VmRSS:");
    long peak = StatusMiB("VmHWM:");

    std::printf("{\"sim\":\"ns-3\",\"hosts\":%u,\"racks\":%u,\"perRack\":%u,\"nodes\":%u,"
                "\"flows\":%zu,\"datagrams\":%u,\"scheduler\":\"%s\","
                "\"buildSeconds\":%.3f,\"buildRssMiB\":%ld,"
                "\"warmup\":{\"frameHops\":%llu,\"wallSeconds\":%.3f,\"cpuSeconds\":%.3f,"
                "\"simSeconds\":%.6f,\"delivered\":%llu},"
                "\"frameHops\":%llu,\"wallSeconds\":%.3f,\"cpuSeconds\":%.3f,\"simSeconds\":%.6f,"
                "\"delivered\":%llu,\"sent\":%llu,\"rssMiB\":%ld,\"peakRssMiB\":%ld,\"deviceDrops\":%llu,\"backoffs\":%llu,\"runs\":[%s]}\n",
                hosts,
                racks,
                perRack,
                hosts + racks + 1,
                flows.size(),
                datagrams,
                scheduler.c_str(),
                WallSeconds(t0, t1),
                buildRss,
                (unsigned long long)warm.hops,
                warm.wallS,
                warm.cpuS,
                warm.simS,
                (unsigned long long)warm.delivered,
                (unsigned long long)steady.hops,
                steady.wallS,
                steady.cpuS,
                steady.simS,
                (unsigned long long)steady.delivered,
                (unsigned long long)flows.size() * datagrams,
                rss,
                peak,
                (unsigned long long)g_drops,
                (unsigned long long)g_backoffs,
                runList.c_str());
    std::fflush(stdout);
    // Tearing down 16,000 nodes' objects takes seconds and measures nothing: leave it to exit.
    std::_Exit(0);
}
