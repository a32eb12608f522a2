// Command sarama-client drives Sarama 1.22 (Debian's golang-github-shopify-sarama-dev) pinned to
// Version = V2_1_0_0 against a Kafka-protocol broker, for tests/clients/test_sarama.py. Each subcommand
// prints JSON lines on stdout and exits non-zero with the error on stderr if an operation fails.
//
// Build: GOPATH=/usr/share/gocode GO111MODULE=off go build -o sarama-client ./tests/sarama
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.ClientID = "weft-sarama-test"
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	return c
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail("json", err)
	}
	fmt.Println(string(out))
}

var codecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// produce sends n records (key k<i>, value <prefix><i>, header idx=<i>) in one SendMessages call.
func produce(brokers []string, args []string) {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	topic := fs.String("topic", "", "topic")
	codec := fs.String("codec", "none", "none, gzip, snappy, lz4 or zstd")
	n := fs.Int("n", 10, "records")
	prefix := fs.String("prefix", "value-", "value prefix")
	fs.Parse(args)
	c := config()
	comp, ok := codecs[*codec]
	if !ok {
		fail("codec", fmt.Errorf("unknown codec %q", *codec))
	}
	c.Producer.Compression = comp
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Retry.Max = 0
	c.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(brokers, c)
	if err != nil {
		fail("producer", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, *n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic:   *topic,
			Key:     sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value:   sarama.StringEncoder(fmt.Sprintf("%s%d", *prefix, i)),
			Headers: []sarama.RecordHeader{{Key: []byte("idx"), Value: []byte(fmt.Sprint(i))}},
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		if errs, ok := err.(sarama.ProducerErrors); ok && len(errs) > 0 {
			fail("produce", errs[0].Err)
		}
		fail("produce", err)
	}
	for _, m := range msgs {
		emit(map[string]interface{}{"partition": m.Partition, "offset": m.Offset})
	}
}

type record struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers"`
	Timestamp int64             `json:"timestamp_ms"`
}

func toRecord(m *sarama.ConsumerMessage) record {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[string(x.Key)] = string(x.Value)
	}
	return record{m.Partition, m.Offset, string(m.Key), string(m.Value), h, m.Timestamp.UnixNano() / 1e6}
}

// consume reads n records from offset 0 of every partition and prints them.
func consume(brokers []string, args []string) {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	topic := fs.String("topic", "", "topic")
	n := fs.Int("n", 10, "records")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	fs.Parse(args)
	cfg := config()
	cfg.Consumer.Return.Errors = true
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		fail("consumer", err)
	}
	defer c.Close()
	parts, err := c.Partitions(*topic)
	if err != nil {
		fail("partitions", err)
	}
	out := make(chan *sarama.ConsumerMessage)
	errs := make(chan error, len(parts))
	for _, p := range parts {
		pc, err := c.ConsumePartition(*topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("consume partition", err)
		}
		defer pc.Close()
		go func(pc sarama.PartitionConsumer) {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					out <- m
				case e := <-pc.Errors():
					if e != nil {
						errs <- e.Err
					}
				}
			}
		}(pc)
	}
	deadline := time.After(*timeout)
	for got := 0; got < *n; got++ {
		select {
		case m := <-out:
			emit(toRecord(m))
		case e := <-errs:
			fail("consume", e)
		case <-deadline:
			fail("consume", fmt.Errorf("timed out after %d of %d records", got, *n))
		}
	}
}

type groupHandler struct {
	mu     sync.Mutex
	want   int
	got    int
	done   chan struct{}
	closed bool
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim prints and marks records until `want` were seen, then stops marking: what the group commits
// is exactly what was printed.
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		if h.got < h.want {
			emit(toRecord(m))
			s.MarkMessage(m, "")
			h.got++
		}
		if h.got >= h.want && !h.closed {
			h.closed = true
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}

// group consumes n records as member of a consumer group (sarama.NewConsumerGroup), committing what it
// printed, then leaves the group.
func group(brokers []string, args []string) {
	fs := flag.NewFlagSet("group", flag.ExitOnError)
	topic := fs.String("topic", "", "topic")
	id := fs.String("group", "", "group id")
	n := fs.Int("n", 10, "records")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	fs.Parse(args)
	c := config()
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	g, err := sarama.NewConsumerGroup(brokers, *id, c)
	if err != nil {
		fail("consumer group", err)
	}
	h := &groupHandler{want: *n, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	consumeErr := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{*topic}, h); err != nil {
				consumeErr <- err
				return
			}
		}
	}()
	go func() {
		for e := range g.Errors() {
			fmt.Fprintf(os.Stderr, "group error: %v\n", e)
		}
	}()
	select {
	case <-h.done:
	case err := <-consumeErr:
		fail("group consume", err)
	case <-time.After(*timeout):
		fail("group consume", fmt.Errorf("timed out after %d of %d records", h.got, *n))
	}
	// Let the offset manager commit what was marked, then leave (Close commits once more).
	time.Sleep(600 * time.Millisecond)
	cancel()
	if err := g.Close(); err != nil {
		fail("group close", err)
	}
}

func admin(brokers []string) sarama.ClusterAdmin {
	a, err := sarama.NewClusterAdmin(brokers, config())
	if err != nil {
		fail("cluster admin", err)
	}
	return a
}

// parseConfigs turns "k=v,k2=v2" into Sarama's config map.
func parseConfigs(s string) map[string]*string {
	out := map[string]*string{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) != 2 {
			fail("config", fmt.Errorf("expected key=value, got %q", kv))
		}
		v := parts[1]
		out[parts[0]] = &v
	}
	return out
}

func adminCmd(cmd string, brokers []string, args []string) {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	topic := fs.String("topic", "", "topic")
	partitions := fs.Int("partitions", 1, "partitions")
	configs := fs.String("configs", "", "k=v,k2=v2")
	groups := fs.String("groups", "", "g1,g2")
	fs.Parse(args)
	a := admin(brokers)
	defer a.Close()
	switch cmd {
	case "create-topic":
		detail := &sarama.TopicDetail{NumPartitions: int32(*partitions), ReplicationFactor: 1, ConfigEntries: parseConfigs(*configs)}
		if err := a.CreateTopic(*topic, detail, false); err != nil {
			fail("create topic", err)
		}
		emit(map[string]string{"created": *topic})
	case "list-topics":
		topics, err := a.ListTopics()
		if err != nil {
			fail("list topics", err)
		}
		out := map[string]interface{}{}
		for name, d := range topics {
			cfg := map[string]string{}
			for k, v := range d.ConfigEntries {
				if v != nil {
					cfg[k] = *v
				}
			}
			out[name] = map[string]interface{}{"partitions": d.NumPartitions, "configs": cfg}
		}
		emit(out)
	case "describe-config":
		entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: *topic})
		if err != nil {
			fail("describe config", err)
		}
		out := map[string]interface{}{}
		for _, e := range entries {
			out[e.Name] = map[string]interface{}{"value": e.Value, "default": e.Default, "read_only": e.ReadOnly}
		}
		emit(out)
	case "alter-config":
		if err := a.AlterConfig(sarama.TopicResource, *topic, parseConfigs(*configs), false); err != nil {
			fail("alter config", err)
		}
		emit(map[string]string{"altered": *topic})
	case "delete-topic":
		if err := a.DeleteTopic(*topic); err != nil {
			fail("delete topic", err)
		}
		emit(map[string]string{"deleted": *topic})
	case "list-groups":
		gs, err := a.ListConsumerGroups()
		if err != nil {
			fail("list groups", err)
		}
		emit(gs)
	case "describe-groups":
		ds, err := a.DescribeConsumerGroups(strings.Split(*groups, ","))
		if err != nil {
			fail("describe groups", err)
		}
		out := []map[string]interface{}{}
		for _, d := range ds {
			members := []string{}
			for _, m := range d.Members {
				members = append(members, m.ClientId)
			}
			sort.Strings(members)
			out = append(out, map[string]interface{}{
				"group": d.GroupId, "state": d.State, "protocol_type": d.ProtocolType, "error": int(d.Err), "members": members,
			})
		}
		emit(out)
	case "group-offsets":
		resp, err := a.ListConsumerGroupOffsets(*groups, map[string][]int32{*topic: {0}})
		if err != nil {
			fail("group offsets", err)
		}
		b := resp.GetBlock(*topic, 0)
		if b == nil {
			fail("group offsets", fmt.Errorf("no offset for %s/0", *topic))
		}
		emit(map[string]interface{}{"offset": b.Offset, "error": int(b.Err)})
	default:
		fail("usage", fmt.Errorf("unknown command %q", cmd))
	}
}

func main() {
	if len(os.Args) < 3 {
		fail("usage", fmt.Errorf("sarama-client BROKERS COMMAND [flags]"))
	}
	brokers := strings.Split(os.Args[1], ",")
	cmd, args := os.Args[2], os.Args[3:]
	switch cmd {
	case "produce":
		produce(brokers, args)
	case "consume":
		consume(brokers, args)
	case "group":
		group(brokers, args)
	default:
		adminCmd(cmd, brokers, args)
	}
}
