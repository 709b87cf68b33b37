// The API key lives in sessionStorage only: gone when the tab closes, never in localStorage,
// a cookie or a URL.

const KEY = "leadmesh.apiKey";

export function savedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
