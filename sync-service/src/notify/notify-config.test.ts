import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';

/** The problems `env` is refused with. */
function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('notification settings in the environment', () => {
  it('gathers digests for ten minutes, warns three days before a gallery closes, keeps sent ones 90 days, and sends no text messages by default', () => {
    expect(loadConfig({}).notify).toEqual({ digestDelaySeconds: 600, galleryExpiryNoticeDays: 3, retentionDays: 90, sms: undefined });
    expect(loadConfig({}).analytics).toEqual({ retentionDays: 400 });
  });

  it('takes a digest delay of 0 to a day, and an SMS provider given by URL and key together', () => {
    const config = loadConfig({
      NOTIFY_DIGEST_DELAY_SEC: '0',
      NOTIFY_GALLERY_EXPIRY_DAYS: '7',
      NOTIFY_RETENTION_DAYS: '30',
      ANALYTICS_RETENTION_DAYS: '730',
      SMS_API_URL: 'https://sms.example/v1/messages',
      SMS_API_KEY: 'k'.repeat(16),
    });
    expect(config.notify).toEqual({ digestDelaySeconds: 0, galleryExpiryNoticeDays: 7, retentionDays: 30, sms: { url: 'https://sms.example/v1/messages', apiKey: 'k'.repeat(16) } });
    expect(config.analytics).toEqual({ retentionDays: 730 });
  });

  it('names the variable and the rule for a bad value, without echoing the SMS key', () => {
    expect(problems({ NOTIFY_DIGEST_DELAY_SEC: '10m' })).toEqual([
      'NOTIFY_DIGEST_DELAY_SEC: must be a whole number of seconds from 0 to 86400 (how long a digest gathers publishes; default 600) (got "10m")',
    ]);
    expect(problems({ NOTIFY_DIGEST_DELAY_SEC: '90000' })).toEqual([
      'NOTIFY_DIGEST_DELAY_SEC: must be at most 86400 seconds (one day): families expect to hear about photos the same day (got "90000")',
    ]);
    expect(problems({ NOTIFY_RETENTION_DAYS: '3 months', ANALYTICS_RETENTION_DAYS: '0' })).toEqual([
      'NOTIFY_RETENTION_DAYS: must be a whole number of days from 1 to 3650 (how long sent notifications are kept; default 90) (got "3 months")',
      'ANALYTICS_RETENTION_DAYS: must be at least 1 day (got "0")',
    ]);
    expect(problems({ ANALYTICS_RETENTION_DAYS: '4000' })).toEqual(['ANALYTICS_RETENTION_DAYS: must be at most 3650 days (ten years) (got "4000")']);
    expect(problems({ SMS_API_URL: 'https://sms.example/v1/messages' })).toEqual(['SMS_API_URL and SMS_API_KEY: set both or neither']);
    expect(problems({ SMS_API_URL: 'ftp://sms.example', SMS_API_KEY: 'short' })).toEqual([
      'SMS_API_URL: must be an http:// or https:// URL (the SMS provider\'s send endpoint) (got "ftp://sms.example")',
      'SMS_API_KEY: must be at least 16 characters',
    ]);
  });
});
