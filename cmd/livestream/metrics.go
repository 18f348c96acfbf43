package main

import (
	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/relay"
	"github.com/prometheus/client_golang/prometheus"
)

// streamCollector exports the live streams' figures at each scrape, from
// live.Manager's snapshot: nothing to keep in step while streams come and
// go. Labels carry the public playback id, never a stream key.
type streamCollector struct {
	streams     func() []live.Info
	latency     func() (count uint64, sum float64, buckets map[float64]uint64)
	partLatency func() (count uint64, sum float64, buckets map[float64]uint64)

	live, ingestBytes, ingestBitrate, decoded, corrupt *prometheus.Desc
	encoded, fps, lag, segments                        *prometheus.Desc
	framesDropped, framesDuplicated, tsFixes, lagEps   *prometheus.Desc
	segmentLatency, partLatencyDesc                    *prometheus.Desc
	relayUp, relayBytes, relayDropped, relayReconnects *prometheus.Desc
}

func newStreamCollector(m *live.Manager) *streamCollector {
	stream := []string{"playback_id"}
	rendition := []string{"playback_id", "rendition"}
	// A relay is labelled by its kind (youtube, facebook, …) and its id
	// (a stored destination's, or url:KIND), never its key or URL.
	relayLabels := []string{"playback_id", "destination", "destination_id"}
	return &streamCollector{
		streams:     m.Streams,
		latency:     m.SegmentLatencyHistogram,
		partLatency: m.PartLatencyHistogram,
		partLatencyDesc: prometheus.NewDesc("livestream_part_latency_seconds",
			"From the arrival of an LL-HLS part's last frame over RTMP to the part's listing in its playlist.", nil, nil),
		relayUp:         prometheus.NewDesc("livestream_relay_up", "1 while a relay destination is receiving the stream.", relayLabels, nil),
		relayBytes:      prometheus.NewDesc("livestream_relay_bytes_total", "Bytes sent to a relay destination.", relayLabels, nil),
		relayDropped:    prometheus.NewDesc("livestream_relay_dropped_packets_total", "Packets a slow relay destination missed (dropped to the next keyframe), and for a re-encoding relay (Twitch) pictures its encoder could not take.", relayLabels, nil),
		relayReconnects: prometheus.NewDesc("livestream_relay_reconnects_total", "Reconnections to a relay destination.", relayLabels, nil),
		segmentLatency: prometheus.NewDesc("livestream_segment_latency_seconds",
			"From the arrival of a segment's last frame over RTMP to the segment's listing in its playlist.", nil, nil),
		live:          prometheus.NewDesc("livestream_streams_live", "Streams being published now.", nil, nil),
		ingestBytes:   prometheus.NewDesc("livestream_ingest_bytes_total", "Media bytes received from the publisher.", stream, nil),
		ingestBitrate: prometheus.NewDesc("livestream_ingest_bitrate_bits", "Publisher's bitrate in bits/s, averaged since the first packet.", stream, nil),
		decoded:       prometheus.NewDesc("livestream_decoded_frames_total", "Video frames decoded.", stream, nil),
		corrupt:       prometheus.NewDesc("livestream_corrupt_packets_total", "Packets the decoders rejected and skipped.", stream, nil),
		encoded:       prometheus.NewDesc("livestream_encoded_frames_total", "Video frames encoded, per rendition.", rendition, nil),
		fps:           prometheus.NewDesc("livestream_encode_fps", "Encode rate in frames/s since the first packet, per rendition.", rendition, nil),
		lag:           prometheus.NewDesc("livestream_encode_lag_seconds", "How far a rendition's encoder is behind the publisher: how late its picture in hand is.", rendition, nil),
		framesDropped: prometheus.NewDesc("livestream_frames_dropped_total",
			"Decoded pictures the frame clock dropped: late (their slot on the frame grid was taken) or lag (skipped while the ladder was over its lag budget).",
			[]string{"playback_id", "reason"}, nil),
		framesDuplicated: prometheus.NewDesc("livestream_frames_duplicated_total", "Pictures the frame clock repeated to fill holes in the source's frames.", stream, nil),
		tsFixes:          prometheus.NewDesc("livestream_timestamp_fixes_total", "Packets whose timestamps were repaired (a DTS at or below the last, a PTS below the DTS).", stream, nil),
		lagEps:           prometheus.NewDesc("livestream_lag_episodes_total", "Times the ladder went over its lag budget and skipped pictures.", stream, nil),
		segments:         prometheus.NewDesc("livestream_segments_total", "HLS segments written, per rendition.", rendition, nil),
	}
}

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.live, c.ingestBytes, c.ingestBitrate, c.decoded, c.corrupt, c.encoded, c.fps, c.lag, c.segments, c.segmentLatency, c.partLatencyDesc, c.relayUp, c.relayBytes, c.relayDropped, c.relayReconnects, c.framesDropped, c.framesDuplicated, c.tsFixes, c.lagEps} {
		ch <- d
	}
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	n := 0
	for _, s := range c.streams() {
		if !s.Live {
			continue
		}
		n++
		pid := s.PlaybackID
		ch <- prometheus.MustNewConstMetric(c.ingestBytes, prometheus.CounterValue, float64(s.IngestBytes), pid)
		ch <- prometheus.MustNewConstMetric(c.ingestBitrate, prometheus.GaugeValue, s.IngestBitrate, pid)
		ch <- prometheus.MustNewConstMetric(c.decoded, prometheus.CounterValue, float64(s.DecodedFrames), pid)
		ch <- prometheus.MustNewConstMetric(c.corrupt, prometheus.CounterValue, float64(s.CorruptPackets), pid)
		if t := s.Timing; t != nil {
			for reason, n := range t.FramesDropped {
				ch <- prometheus.MustNewConstMetric(c.framesDropped, prometheus.CounterValue, float64(n), pid, reason)
			}
			ch <- prometheus.MustNewConstMetric(c.framesDuplicated, prometheus.CounterValue, float64(t.FramesDuplicated), pid)
			ch <- prometheus.MustNewConstMetric(c.tsFixes, prometheus.CounterValue, float64(t.TimestampFixes), pid)
			ch <- prometheus.MustNewConstMetric(c.lagEps, prometheus.CounterValue, float64(t.LagEpisodes), pid)
		}
		for _, r := range s.Relays {
			up := 0.0
			if r.State == relay.Live {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.relayUp, prometheus.GaugeValue, up, pid, r.Kind, r.ID)
			ch <- prometheus.MustNewConstMetric(c.relayBytes, prometheus.CounterValue, float64(r.BytesSent), pid, r.Kind, r.ID)
			ch <- prometheus.MustNewConstMetric(c.relayDropped, prometheus.CounterValue, float64(r.Dropped), pid, r.Kind, r.ID)
			ch <- prometheus.MustNewConstMetric(c.relayReconnects, prometheus.CounterValue, float64(r.Reconnects), pid, r.Kind, r.ID)
		}
		for _, r := range s.Renditions {
			ch <- prometheus.MustNewConstMetric(c.encoded, prometheus.CounterValue, float64(r.Frames), pid, r.Name)
			ch <- prometheus.MustNewConstMetric(c.fps, prometheus.GaugeValue, r.FPS, pid, r.Name)
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, r.LagSeconds, pid, r.Name)
			ch <- prometheus.MustNewConstMetric(c.segments, prometheus.CounterValue, float64(r.Segments), pid, r.Name)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(n))
	count, sum, buckets := c.latency()
	ch <- prometheus.MustNewConstHistogram(c.segmentLatency, count, sum, buckets)
	count, sum, buckets = c.partLatency()
	ch <- prometheus.MustNewConstHistogram(c.partLatencyDesc, count, sum, buckets)
}

// recorderCollector exports the recorder's counters at each scrape.
type recorderCollector struct {
	stats func() record.Stats

	spool, sessions, uploaded, failed, dropped, uploadLatency, spoolLatency *prometheus.Desc
}

func newRecorderCollector(stats func() record.Stats) *recorderCollector {
	q := []string{"quantile"}
	return &recorderCollector{
		stats:    stats,
		spool:    prometheus.NewDesc("livestream_record_spool_bytes", "Bytes of segments waiting in the recording spool for their upload.", nil, nil),
		sessions: prometheus.NewDesc("livestream_record_sessions", "Recording sessions recording or uploading.", nil, nil),
		uploaded: prometheus.NewDesc("livestream_record_uploaded_segments_total", "Recorded segments stored in the recordings' storage.", nil, nil),
		failed:   prometheus.NewDesc("livestream_record_failed_attempts_total", "Failed writes to the recordings' storage (retried): grows while it is unreachable.", nil, nil),
		dropped:  prometheus.NewDesc("livestream_record_dropped_segments_total", "Segments missing from their recording: the spool was full or could not be written.", nil, nil),
		uploadLatency: prometheus.NewDesc("livestream_record_upload_latency_seconds",
			"From a segment handed to the recorder to its object stored, over the recent segments.", q, nil),
		spoolLatency: prometheus.NewDesc("livestream_record_spool_write_seconds",
			"Time to write a segment to the spool (fsynced), over the recent segments.", q, nil),
	}
}

func (c *recorderCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.spool, c.sessions, c.uploaded, c.failed, c.dropped, c.uploadLatency, c.spoolLatency} {
		ch <- d
	}
}

func (c *recorderCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(c.spool, prometheus.GaugeValue, float64(st.SpoolBytes))
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(st.Sessions))
	ch <- prometheus.MustNewConstMetric(c.uploaded, prometheus.CounterValue, float64(st.Uploaded))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(st.FailedAttempts))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.uploadLatency, prometheus.GaugeValue, st.UploadP50.Seconds(), "0.5")
	ch <- prometheus.MustNewConstMetric(c.uploadLatency, prometheus.GaugeValue, st.UploadP99.Seconds(), "0.99")
	ch <- prometheus.MustNewConstMetric(c.spoolLatency, prometheus.GaugeValue, st.SpoolWriteP50.Seconds(), "0.5")
	ch <- prometheus.MustNewConstMetric(c.spoolLatency, prometheus.GaugeValue, st.SpoolWriteP99.Seconds(), "0.99")
}
