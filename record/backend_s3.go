package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config says which bucket an S3Backend writes to and how to reach it.
type S3Config struct {
	// Bucket must exist; the backend does not create it.
	Bucket string
	// Prefix is put before every name, with a slash ("recordings" →
	// "recordings/<playback id>/…"); empty writes at the bucket's root.
	Prefix string
	// Region defaults to the AWS chain's (AWS_REGION, shared config), then
	// to us-east-1, which S3-compatible servers accept.
	Region string
	// Endpoint is an S3-compatible server's URL ("http://127.0.0.1:7070");
	// empty means AWS.
	Endpoint string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// instead of the host name, as most S3-compatible servers need.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; when empty,
	// credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, the shared config and credentials files, an
	// instance role).
	AccessKeyID, SecretAccessKey string
}

// LogValue leaves the secret access key out of logs.
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("bucket", c.Bucket), slog.String("prefix", c.Prefix),
		slog.String("region", c.Region), slog.String("endpoint", c.Endpoint), slog.Bool("path_style", c.PathStyle))
}

// S3Backend stores recordings in an S3 bucket (or an S3-compatible server)
// through aws-sdk-go-v2. It makes one attempt per call: the Recorder
// retries uploads with its own backoff, and counts the failed attempts.
type S3Backend struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending with "/"
}

var _ Backend = (*S3Backend)(nil)

// NewS3Backend returns a backend for cfg's bucket. It does not reach the
// server: a bucket that is missing or unreachable shows in the first call.
func NewS3Backend(ctx context.Context, cfg S3Config) (*S3Backend, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 backend: bucket: must be set")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := checkName(prefix); err != nil {
			return nil, fmt.Errorf("s3 backend: prefix: %w", err)
		}
		prefix += "/"
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryMaxAttempts(1),
		// S3-compatible servers do not all take the CRC checksums the SDK
		// adds to every request by default since 2025; S3 needs them only
		// where an operation requires one.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 backend: load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &S3Backend{client: client, bucket: cfg.Bucket, prefix: prefix}, nil
}

// Put uploads data as name with its Content-Type and Cache-Control; S3
// replaces an object atomically.
func (b *S3Backend) Put(ctx context.Context, name string, data []byte, contentType, cacheControl string) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(b.prefix + name),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
		CacheControl:  aws.String(cacheControl),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get downloads name.
func (b *S3Backend) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.prefix + name)})
	if isNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return data, nil
}

// List lists the objects under prefix, page by page.
func (b *S3Backend) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var objs []ObjectInfo
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(b.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(o.Key), b.prefix)
			if !ok || strings.HasSuffix(name, "/") { // directory markers of some servers
				continue
			}
			objs = append(objs, ObjectInfo{Name: name, Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	slices.SortFunc(objs, func(a, b ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	return objs, nil
}

// Delete removes name.
func (b *S3Backend) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.prefix + name)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")
}
