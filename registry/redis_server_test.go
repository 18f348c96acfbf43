package registry

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/livestream/livestream/internal/testenv"
)

// openRedisTemp starts a Redis and opens a RedisStore on it, closed at the
// end of the test; it returns the store and the URL.
func openRedisTemp(t testing.TB) (*RedisStore, string) {
	t.Helper()
	url := redisURL(t)
	return openRedisURL(t, url), url
}

// redisURL starts a Redis and returns its URL.
func redisURL(t testing.TB) string {
	t.Helper()
	return "redis://" + testenv.StartRedis(t) + "/0"
}

func openRedisURL(t testing.TB, url string) *RedisStore {
	t.Helper()
	s, err := OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// redisDump returns every key of the Redis that s uses, with its value,
// one per line: what someone who reads the Redis sees.
func redisDump(t *testing.T, s *RedisStore) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := s.rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := s.rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var val any
		switch typ {
		case "string":
			val, err = s.rdb.Get(ctx, key).Result()
		case "zset":
			val, err = s.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "set":
			val, err = s.rdb.SMembers(ctx, key).Result()
		default:
			t.Fatalf("key %s has type %s, which the registry does not use", key, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		b.WriteString(key + " " + strings.TrimSpace(strings.ReplaceAll(toString(val), "\n", " ")) + "\n")
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, " ")
	case []redis.Z:
		var parts []string
		for _, z := range v {
			parts = append(parts, z.Member.(string)+"="+strconv.FormatFloat(z.Score, 'f', -1, 64))
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// selfSignedTLS writes a certificate for 127.0.0.1 and its key into dir,
// from a test CA, and returns their paths and a client config that trusts
// the CA.
func selfSignedTLS(t *testing.T, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	ca := testenv.NewCA(t)
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	ca.Issue(t, "livestream test redis", certFile, keyFile)
	return certFile, keyFile, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}
